"""Ratings into Spark: the Kaggle and original Netflix text files, MovieLens files, or parquet.

Every reader returns the frame ``user_id`` (int), ``movie_id`` (int), ``rating`` (float), ``date``
(timestamp without time zone, UTC) and ``row``: a key that grows with the rating's position in
the files as :func:`cfutils.data.io.read_ratings` orders them. The splits break their last tie on
``row``, so only its order matters; it is dense (0, 1, 2, ...) for parquet and ``(file << 40) +
split start + line within the split`` for text.

The text files are parsed by Spark, not pandas on the driver: each file is read with Spark's
splittable text source, and each split's lines are parsed on the executors in Arrow batches
(vectorised with pandas, ``mapInArrow``). The Netflix format's movie header lines (``123:``) make
the parse stateful: one aggregate finds the last header of each split (one small row per split
comes back to the driver), and the parse of a split starts from the last header before it. A line
that does not parse raises :class:`cfutils.data.io.DataFormatError` naming the file, the line
number and the line.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from cfutils.data.dataset import source_path
from cfutils.data.io import (
    MOVIELENS_LAYOUTS,
    RATINGS_DTYPES,
    DataFormatError,
    line_number,
    ratings_cache_path,
    read_ratings,
    resolve_ratings_files,
)

RATING_COLUMNS = list(RATINGS_DTYPES)
ROW = "row"
#: ``row`` of a text line: ``(file index << OFFSET_BITS) + byte offset`` (files up to 1 TiB).
OFFSET_BITS = 40
#: Bits of ``monotonically_increasing_id`` that hold the record number within a partition.
RECORD_BITS = 33
TEXT_SCHEMA = "user_id int, movie_id int, rating float, seconds long, row long"
TEXT_DTYPES = {"user_id": "int32", "movie_id": "int32", "rating": "float32", "seconds": "int64", "row": "int64"}
#: A Netflix movie header line, ``123:`` (group 1: the movie id).
HEADER_PATTERN = r"^\s*(\d+)\s*:\s*$"


def read_source(spark: SparkSession, path: str) -> DataFrame:
    """The ratings at ``path``: a ``.parquet`` file or folder (any URL Spark reads), a folder of
    parquet files, or the Netflix / MovieLens files that :func:`cfutils.data.io.read_ratings`
    recognises (local or shared paths; gzip files need the parquet route)."""
    local = Path(path)
    if str(path).endswith(".parquet") or (local.is_dir() and any(local.glob("*.parquet"))):
        return read_ratings_parquet(spark, str(path))
    return read_text_ratings(spark, local)


def read_text_ratings(spark: SparkSession, path: Path) -> DataFrame:
    """The Netflix (``combined_data_*.txt``, ``training_set/mv_*.txt``) or MovieLens ratings files
    of ``path``, parsed on the executors, with the rows :func:`cfutils.data.io.read_ratings` keeps."""
    kind, files = resolve_ratings_files(Path(path))
    if any(file.name.endswith(".gz") for file in files):
        raise DataFormatError(path, "gzip files are not splittable; write the parquet cache first (read_ratings)")
    parts = [_parsed_file(spark, file, index, kind) for index, file in enumerate(files)]
    frame = functools.reduce(DataFrame.unionByName, parts)
    dated = frame.select(
        "user_id", "movie_id", "rating", F.timestamp_seconds("seconds").cast("timestamp_ntz").alias("date"), ROW
    )
    return keep_latest_per_pair(dated)


def keep_latest_per_pair(frame: DataFrame) -> DataFrame:
    """One rating per ``(user_id, movie_id)``: the latest by date, on a tie the later row, as
    :func:`cfutils.data.io.read_ratings` keeps. One aggregate by pair (a shuffle of the ratings)."""
    latest = F.max(F.struct("date", ROW, "rating")).alias("_latest")
    kept = frame.groupBy("user_id", "movie_id").agg(latest)
    return kept.select("user_id", "movie_id", "_latest.rating", "_latest.date", f"_latest.{ROW}")


def text_lines(spark: SparkSession, file: Path) -> DataFrame:
    """The lines of one file: ``value`` and ``start``, the byte where the Hadoop split holding the line
    starts (Spark's ``_metadata.file_block_start``). A split's lines arrive in file order."""
    return spark.read.text(str(file.resolve())).select("value", F.col("_metadata.file_block_start").alias("start"))


def _parsed_file(spark: SparkSession, file: Path, index: int, kind: str) -> DataFrame:
    lines = text_lines(spark, file)
    carried = netflix_carries(lines) if kind == "netflix" else {}
    parse = functools.partial(
        _parse_batches, kind=kind, carried=carried, path=str(file.resolve()), base=index << OFFSET_BITS
    )
    return lines.mapInArrow(parse, TEXT_SCHEMA)


def netflix_carries(lines: DataFrame) -> dict[int, int]:
    """``{split start: movie of the split's last header line}`` for the splits of one Netflix file
    that hold a header: one aggregate, one small row per such split back to the driver. A split
    starts from the entry of the nearest split before it (:func:`carried_into`)."""
    movie = F.regexp_extract("value", HEADER_PATTERN, 1)
    headers = lines.withColumn("_order", F.monotonically_increasing_id()).filter(F.col("value").rlike(HEADER_PATTERN))
    return dict(headers.groupBy("start").agg(F.max_by(movie.cast("int"), "_order")).collect())


def carried_into(last_headers: dict[int, int], start: int) -> int | None:
    """The movie a split at byte ``start`` starts in: the last header of the nearest split before it."""
    before = [split for split in last_headers if split < start]
    return last_headers[max(before)] if before else None


def _parse_batches(batches, kind: str, carried: dict, path: str, base: int):
    """Arrow batches of ``value, start`` -> batches of :data:`TEXT_SCHEMA` (vectorised with pandas).

    ``row`` = ``base + start + i`` for the i-th line of the split at ``start``: it grows with the
    file position (a line takes at least one byte). Netflix: each line's movie is the last header
    before it, within the batch, else the one carried into the split.
    """
    position: dict[int, int] = {}
    movie_now: dict[int, int | None] = {}
    for batch in batches:
        frame = batch.to_pandas()
        if frame.empty:
            continue
        starts = frame["start"].to_numpy(np.int64)
        index = np.zeros(len(frame), np.int64)
        for start in np.unique(starts):
            mine = starts == start
            index[mine] = position.get(start, 0) + np.arange(mine.sum())
            position[start] = int(index[mine][-1]) + 1
        rows = base + starts + index
        text = frame["value"]
        if kind == "netflix":
            parsed, movie_now = _netflix_batch(text, starts, rows - base, movie_now, carried, path)
        else:
            parsed = _movielens_batch(text, starts, rows - base, MOVIELENS_LAYOUTS[kind], path)
        keep = parsed.pop("_keep")
        kept = pd.DataFrame(parsed)[keep].assign(row=rows[keep]).astype(TEXT_DTYPES)
        yield pa.RecordBatch.from_pandas(kept, preserve_index=False)


def _netflix_batch(text: pd.Series, starts, lines_in, movie_now: dict, carried: dict, path: str):
    """The ratings of one batch of Netflix lines, and the movie each split is at after it."""
    header = text.str.fullmatch(HEADER_PATTERN).to_numpy()
    movie = pd.to_numeric(text.str.extract(HEADER_PATTERN, expand=False), errors="coerce").where(header)
    for start in np.unique(starts):  # the movie carried into this batch, at the split's first line here
        first = int(np.argmax(starts == start))
        now = movie_now[start] if start in movie_now else carried_into(carried, int(start))
        if np.isnan(movie.iloc[first]) and now is not None:
            movie.iloc[first] = now
    movie = movie.groupby(starts).ffill()
    for start in np.unique(starts):
        last = movie[starts == start].iloc[-1]
        movie_now[start] = None if np.isnan(last) else int(last)
    data = ~header & (text.str.strip() != "").to_numpy()
    fields = text.str.split(",", expand=True, n=2).reindex(columns=range(3))
    user = pd.to_numeric(fields[0], errors="coerce")
    rating = pd.to_numeric(fields[1], errors="coerce")
    day = pd.to_datetime(fields[2].str.strip(), format="%Y-%m-%d", errors="coerce")
    problems = (
        (movie.isna(), "a rating before the first movie header"),
        (user.isna() | rating.isna() | day.isna(), "expected user_id,rating,YYYY-MM-DD"),
        (~rating.between(1, 5), "a rating outside 1..5"),
    )
    _raise_first(data, problems, text, starts, lines_in, path)
    seconds = day.to_numpy().astype("datetime64[s]").astype(np.int64)
    parsed = {"user_id": user, "movie_id": movie, "rating": rating, "seconds": seconds}
    return {**parsed, "_keep": data}, movie_now


def _movielens_batch(text: pd.Series, starts: np.ndarray, lines_in: np.ndarray, layout, path: str) -> dict:
    """The ratings of one batch of MovieLens lines (``user<sep>movie<sep>rating<sep>timestamp``)."""
    separator = layout.separator.decode()
    header = layout.header.decode() if layout.header else None
    skip = (text.str.strip() == "") | ((lines_in == 0) & (text.str.replace(" ", "") == header))
    data = ~skip.to_numpy()
    fields = text.str.split(separator, expand=True, regex=False).reindex(columns=range(4))
    columns = [pd.to_numeric(fields[i], errors="coerce") for i in range(4)]
    wrong = (text.str.count(re.escape(separator)) != 3) | np.logical_or.reduce([c.isna() for c in columns])
    _raise_first(data, ((wrong, "expected user, movie, rating and timestamp"),), text, starts, lines_in, path)
    return {**dict(zip(("user_id", "movie_id", "rating", "seconds"), columns)), "_keep": data}


def _raise_first(data: np.ndarray, problems, text: pd.Series, starts, lines_in, path: str) -> None:
    """Raises :class:`DataFormatError` for the first data line with a problem (its first listed problem)."""
    flags = [(np.asarray(flag, dtype=bool) & data, reason) for flag, reason in problems]
    bad = np.flatnonzero(np.logical_or.reduce([flag for flag, _ in flags]))
    if bad.size:
        at = int(bad[0])
        reason = next(reason for flag, reason in flags if flag[at])
        line = _split_first_line(Path(path), int(starts[at])) + int(lines_in[at] - starts[at])
        raise DataFormatError(path, reason, line, text.iloc[at])


def _split_first_line(path: Path, start: int) -> int:
    """The 1-based number of the first line Hadoop's line reader gives for the split at byte ``start``:
    1 for the first split; else the line after the first newline at or after ``start``."""
    if start == 0:
        return 1
    with open(path, "rb") as stream:
        stream.seek(start)
        skipped = 0
        while (block := stream.read(1 << 16)) and block.find(b"\n") < 0:
            skipped += len(block)
        return line_number(path, start + skipped + (block.find(b"\n") if block else 0) + 1)


# --------------------------------------------------------------------------- parquet and small data


def parquet_source(data: str | Path) -> str:
    """Where Spark reads the ratings of ``data`` (``"sample"``, ``"movielens-small"`` or a path).

    A path ending in ``.parquet`` is taken as it is: on a cluster, a file or folder every
    executor can read (a shared file system, or an object store URL such as
    ``s3a://bucket/ratings.parquet``). Otherwise the parquet cache that
    :func:`cfutils.data.io.read_ratings` keeps for the source; when it does not exist yet, the
    files are parsed once, on this machine, to write it.
    """
    if str(data).endswith(".parquet"):
        return str(data)
    source = source_path(data)
    cache = ratings_cache_path(source)
    if not cache.exists():
        read_ratings(source, cache=True)
    return str(cache)


def with_row_position(frame: DataFrame, name: str = ROW) -> DataFrame:
    """``frame`` with ``name``: 0, 1, 2, ... in the frame's current order, computed per partition.

    ``monotonically_increasing_id`` is ``(partition << 33) + record``; one pass counts the
    records of each partition (one row per partition comes back), and the position is the
    partition's offset plus the record number: no single partition ever holds all rows. The
    frame is persisted so that both passes see the same partitions.
    """
    marked = frame.withColumn("_id", F.monotonically_increasing_id()).persist()
    partition = F.shiftright(F.col("_id"), RECORD_BITS)
    counts = marked.groupBy(partition.alias("_part")).count().orderBy("_part").toPandas()
    offsets = counts.assign(_offset=counts["count"].cumsum() - counts["count"])[["_part", "_offset"]]
    offset_table = frame.sparkSession.createDataFrame(offsets.astype("int64"))
    record = F.col("_id").bitwiseAND(F.lit((1 << RECORD_BITS) - 1))
    return (
        marked.join(F.broadcast(offset_table), partition == F.col("_part"))
        .withColumn(name, F.col("_offset") + record)
        .drop("_id", "_part", "_offset")
    )


def read_ratings_parquet(spark: SparkSession, path: str) -> DataFrame:
    """The ratings of a parquet file or folder in the four columns (as
    :func:`cfutils.data.io.read_ratings` writes them), with ``row`` = the position in that frame."""
    frame = spark.read.parquet(str(path)).select(
        F.col("user_id").cast("int"),
        F.col("movie_id").cast("int"),
        F.col("rating").cast("float"),
        F.col("date").cast("timestamp_ntz").alias("date"),
    )
    return with_row_position(frame)


def from_pandas(spark: SparkSession, ratings: pd.DataFrame) -> DataFrame:
    """A pandas ratings frame as a Spark frame with ``row`` = its position (for tests and small data)."""
    frame = spark.createDataFrame(
        ratings[RATING_COLUMNS].reset_index(drop=True).assign(**{ROW: np.arange(len(ratings))})
    )
    return frame.withColumn("date", F.col("date").cast("timestamp_ntz"))


def to_pandas(frame: DataFrame) -> pd.DataFrame:
    """Collect a ratings frame (small data only) in ``row`` order, indexed by ``row``, with the contract dtypes.

    A part of a split then equals the part that :mod:`cfutils.data.split` returns, index included,
    when ``row`` is the position (parquet, :func:`from_pandas`).
    """
    local = frame.select(*RATING_COLUMNS, ROW).orderBy(ROW).toPandas()
    return local.set_index(ROW).rename_axis(None).astype(RATINGS_DTYPES)
