"""What a run writes, written safely: one run per output folder, and files that are whole or absent.

- :func:`output_lock`: an exclusive lock on ``OUTPUT_DIR/.cfutils.lock`` for the whole run, so a
  second run into the same folder is refused instead of mixing its files with the first's.
- :func:`write_files`: final files written under temporary names in their own folder, then renamed
  into place together; a write error (a full disk) leaves none of them, and says which file.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".cfutils.lock"


class OutputError(RuntimeError):
    """A final file could not be written; the message names it."""


class OutputInUseError(OutputError):
    """Another run holds the output folder's lock."""


@contextmanager
def output_lock(output_dir: Path) -> Iterator[Path]:
    """Hold an exclusive, non-blocking ``flock`` on ``output_dir/.cfutils.lock`` (folder created)
    while the block runs. Raises :class:`OutputInUseError` ("another run is writing to …") when another
    process holds it. The kernel drops the lock when the process ends, even when killed."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / LOCK_NAME
    with open(path, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputInUseError(f"another run is writing to {output_dir} (lock {path})") from None
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_files(texts: Mapping[Path, str]) -> None:
    """Write each ``{path: text}`` (UTF-8) to a temporary file beside it (``mkstemp``), then rename
    them all into place. When any write fails, every temporary file is removed, no final file is
    touched, and :class:`OutputError` names the file and the reason in one line."""
    written: dict[Path, str] = {}
    try:
        for path, text in texts.items():
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            written[path] = temporary
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
    except OSError as error:
        for temporary in written.values():
            Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    for path, temporary in written.items():
        os.replace(temporary, path)
