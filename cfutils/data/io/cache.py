"""The parquet cache of parsed ratings: keyed by the source files, written atomically, verified on reading."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cfutils.data.io.files import base_name, resolve_ratings_files
from cfutils.data.io.schema import RATINGS_DTYPES

logger = logging.getLogger(__name__)

#: Bump when the parsed output or the cache layout changes, so that old parquet caches are not reused.
CACHE_VERSION = 2
REPORT_KEY = b"cfutils.read_report"
DIGEST_KEY = b"cfutils.sha256"


#: Environment variable that moves the default parquet cache folder (tests point it at a tmp dir).
CACHE_DIR_ENV = "CFUTILS_CACHE_DIR"
#: The cache folder of a checkout of the project (it exists only there, not in an installed package).
CHECKOUT_CACHE_DIR = Path(__file__).resolve().parents[3] / "data" / "processed"
#: A temporary cache file untouched for this long was left by a writer that died; the next write removes it.
ORPHAN_SECONDS = 3600


def default_cache_dir() -> Path:
    """Where :func:`read_ratings` caches: ``$CFUTILS_CACHE_DIR`` if set; else, in a checkout of the
    project, ``<repo>/data/processed``; else the user's cache folder, ``$XDG_CACHE_HOME/cfutils``
    (``~/.cache/cfutils`` when ``XDG_CACHE_HOME`` is unset or relative)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    if CHECKOUT_CACHE_DIR.is_dir():
        return CHECKOUT_CACHE_DIR
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "cfutils"


def ratings_cache_path(path: Path | str, cache_dir: Path | str | None = None) -> Path:
    """The parquet file that ``read_ratings(path, cache=True, cache_dir=cache_dir)`` reads or writes.

    Another engine (Spark) reads the parsed ratings from there; it exists once
    ``read_ratings`` has run on the current files.
    """
    _, files = resolve_ratings_files(Path(path))
    return cache_file_path(files, Path(cache_dir) if cache_dir is not None else default_cache_dir())


def cache_file_path(files: list[Path], cache_dir: Path) -> Path:
    """``ratings-<source>-<hash>.parquet``; the hash covers each file's resolved path, size,
    modification time and inode change time (no tool can set the change time back)."""
    stamps = [(str(f.resolve()), s.st_size, s.st_mtime_ns, s.st_ctime_ns) for f in files for s in [f.stat()]]
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, stamps]).encode()).hexdigest()[:16]
    source = files[0].parent.name if len(files) > 1 else base_name(files[0])
    return cache_dir / f"ratings-{re.sub(r'[^A-Za-z0-9_.-]', '_', source)}-{digest}.parquet"


def _frame_digest(frame: pd.DataFrame, report: bytes) -> bytes:
    """SHA-256 (hex) of the read report and of each column's name, dtype and values: everything
    a cache must give back unchanged."""
    digest = hashlib.sha256(report)
    for name in RATINGS_DTYPES:
        values = np.ascontiguousarray(frame[name].to_numpy())
        digest.update(f"{name}:{values.dtype.str}:{values.size}".encode())
        digest.update(values.view(np.uint8))
    return digest.hexdigest().encode()


def write_cache(frame: pd.DataFrame, cache_path: Path) -> None:
    """Write atomically (temporary file, then rename) with parquet page checksums, and the read
    report and the frame's digest in the metadata.

    A failure (read-only or full disk, a cache folder under a file) logs one warning and leaves
    no temporary file: the frame is parsed already, only the next read will be slower. Orphaned
    temporary files (see :data:`ORPHAN_SECONDS`) are removed first.
    """
    report = json.dumps(frame.attrs["read_report"]).encode()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), REPORT_KEY: report, DIGEST_KEY: _frame_digest(frame, report)}
    temporary = None
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(cache_path.parent)
        # mkstemp: an unpredictable name, created exclusively (O_EXCL, mode 0600), so a link planted in
        # a shared cache folder is never followed and overwritten.
        handle, name = tempfile.mkstemp(prefix=f".{cache_path.name}.", suffix=".tmp", dir=cache_path.parent)
        os.close(handle)
        temporary = Path(name)
        pq.write_table(table.replace_schema_metadata(metadata), temporary, write_page_checksum=True)
        os.replace(temporary, cache_path)
        del table
        release_arrow_memory()
    except OSError as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        logger.warning(
            "%s: parquet cache not written (%s); the source will be parsed again next time", cache_path, error
        )


def _remove_orphans(cache_dir: Path) -> None:
    """Delete the temporary cache files not modified for :data:`ORPHAN_SECONDS`."""
    cutoff = time.time() - ORPHAN_SECONDS
    for temporary in cache_dir.glob(".ratings-*.tmp"):
        with contextlib.suppress(OSError):  # another process may have just renamed or removed it
            if temporary.stat().st_mtime < cutoff:
                temporary.unlink()
                logger.info("%s: removed an orphaned temporary cache file", temporary)


def read_cache(cache_path: Path) -> pd.DataFrame | None:
    """The cached frame, or None when there is no cache or it is unusable.

    An unusable cache (unreadable, truncated, a page checksum or the digest not matching) is
    deleted, with one warning: it is only a copy, and the source is parsed again.
    """
    if not cache_path.exists():
        return None
    logger.info("reading the parquet cache %s", cache_path)
    try:
        return _read_verified_cache(cache_path)
    except Exception as error:  # whatever the damage, the source is the truth
        try:
            cache_path.unlink(missing_ok=True)
            outcome = "deleted it"
        except OSError as unlink_error:
            outcome = f"could not delete it ({unlink_error})"
        logger.warning(
            "%s: unusable parquet cache (%s: %s); %s, parsing the source again",
            cache_path,
            type(error).__name__,
            error,
            outcome,
        )
        return None


class _CacheMismatch(Exception):
    """A cache read without error holds another frame than the one written."""


def _read_verified_cache(cache_path: Path) -> pd.DataFrame:
    """Read a cache back with the contract dtypes (parquet stores seconds as milliseconds), verifying
    the page checksums while reading and then the digest of the frame and report."""
    table = pq.read_table(cache_path, page_checksum_verification=True)
    metadata = table.schema.metadata or {}
    report = metadata[REPORT_KEY]
    schema = pa.schema([(name, pa.from_numpy_dtype(dtype)) for name, dtype in RATINGS_DTYPES.items()])
    table = table.cast(schema)
    # Each column is copied out of Arrow and dropped from the table at once, so the frame holds
    # numpy memory only: freeing it later (a notebook's ``del ratings`` after the split) gives the
    # memory back to the system, where Arrow's pool would keep it (2 GB at full Netflix size).
    columns = {}
    for name in list(table.column_names):
        columns[name] = np.array(table.column(name).to_numpy(), copy=True)
        table = table.drop_columns([name])
    frame = pd.DataFrame(columns, copy=False)
    if list(frame.columns) != list(RATINGS_DTYPES) or _frame_digest(frame, report) != metadata[DIGEST_KEY]:
        raise _CacheMismatch("the frame read differs from the one written")
    frame.attrs["read_report"] = json.loads(report)
    del table
    release_arrow_memory()
    return frame


def release_arrow_memory() -> None:
    """Hand the pages Arrow's allocator freed back to the system.

    Arrow's pool (mimalloc) keeps freed pages for reuse: after reading the full-size cache (100M
    ratings, a 2 GB frame) the process held about 3 GB more than the frame, and carried it
    through every later stage (``benchmarks/README.md``).
    """
    pa.default_memory_pool().release_unused()
