"""Ratings into Spark: the Kaggle and original Netflix text files, MovieLens files, or parquet.

Every reader returns the frame ``user_id`` (int), ``movie_id`` (int), ``rating`` (float), ``date``
(timestamp without time zone, UTC) and ``row``: a key that grows with the rating's position in
the files as :func:`cfutils.data.io.read_ratings` orders them. The splits break their last tie on
``row``, so only its order matters; it is dense (0, 1, 2, ...) for parquet and ``(file << 40) +
byte offset`` for text.

The text files are parsed by Spark, not pandas: each file is read with Hadoop's splittable
``TextInputFormat``, which gives every line with its byte offset. The Netflix format's movie
header lines (``123:``) make the parse stateful; one pass finds the last header of each
partition (one small row per partition comes back), and the parse of partition ``p`` starts from
the last header before it. A line that does not parse raises
:class:`cfutils.data.io.DataFormatError` naming the file, the line number and the line.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
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
_HEADER = re.compile(r"\s*(\d+)\s*:\s*")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


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
    parts = [
        _netflix_lines(spark, file, index) if kind == "netflix" else _movielens_lines(spark, file, index, kind)
        for index, file in enumerate(files)
    ]
    rdd = parts[0] if len(parts) == 1 else spark.sparkContext.union(parts)
    frame = spark.createDataFrame(rdd, TEXT_SCHEMA)
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


def _lines(spark: SparkSession, file: Path):
    """``(byte offset, line)`` of every line of ``file``, split into partitions by Hadoop."""
    return spark.sparkContext.hadoopFile(
        str(file.resolve()),
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.io.LongWritable",
        "org.apache.hadoop.io.Text",
    )


def _netflix_lines(spark: SparkSession, file: Path, index: int):
    return parse_netflix(_lines(spark, file), str(file), index << OFFSET_BITS)


def parse_netflix(lines, path: str, base: int = 0):
    """The rating tuples ``(user_id, movie_id, rating, seconds, row)`` of an RDD of one Netflix file's
    ``(byte offset, line)``, its partitions in file order: each partition starts from the last movie
    header of the partitions before it (found by one pass that returns one row per partition)."""
    last_headers = dict(lines.mapPartitionsWithIndex(_last_header).collect())
    carried, start = None, {}
    for partition in range(lines.getNumPartitions()):
        start[partition] = carried
        carried = last_headers.get(partition, carried)
    return lines.mapPartitionsWithIndex(lambda p, part: _parse_netflix(part, start[p], path, base))


def _last_header(partition: int, lines):
    movie = None
    for _, text in lines:
        if (header := _HEADER.fullmatch(text)) is not None:
            movie = int(header.group(1))
    return [(partition, movie)] if movie is not None else []


def _parse_netflix(lines, movie: int | None, path: str, base: int):
    """``user,rating,YYYY-MM-DD`` lines under the last ``movie:`` header."""
    for offset, text in lines:
        if (header := _HEADER.fullmatch(text)) is not None:
            movie = int(header.group(1))
            continue
        if not text.strip():
            continue
        if movie is None:
            raise _bad_line(path, offset, text, "a rating before the first movie header")
        try:
            user, rating, day = text.split(",")
            seconds = (dt.date.fromisoformat(day.strip()).toordinal() - _EPOCH_ORDINAL) * 86_400
            user, rating = int(user), float(rating)
        except ValueError:
            raise _bad_line(path, offset, text, "expected user_id,rating,YYYY-MM-DD") from None
        if not 1 <= rating <= 5:
            raise _bad_line(path, offset, text, "a rating outside 1..5")
        yield user, movie, rating, seconds, base + offset


def _movielens_lines(spark: SparkSession, file: Path, index: int, kind: str):
    layout = MOVIELENS_LAYOUTS[kind]
    separator = layout.separator.decode()
    header = layout.header.decode() if layout.header else None
    path, base = str(file), index << OFFSET_BITS
    return _lines(spark, file).mapPartitions(lambda part: _parse_movielens(part, separator, header, path, base))


def _parse_movielens(lines, separator: str, header: str | None, path: str, base: int):
    """``user<sep>movie<sep>rating<sep>timestamp`` lines; the header line (``ratings.csv``) is skipped."""
    for offset, text in lines:
        if not text.strip() or (offset == 0 and header is not None and text.replace(" ", "") == header):
            continue
        try:
            user, movie, rating, seconds = text.split(separator)
            yield int(user), int(movie), float(rating), int(seconds), base + offset
        except ValueError:
            raise _bad_line(
                path, offset, text, f"expected user{separator}movie{separator}rating{separator}timestamp"
            ) from None


def _bad_line(path: str, offset: int, text: str, reason: str) -> DataFormatError:
    """Raised on an executor; :func:`cfutils.distributed.job.main` shows its message as it is."""
    return DataFormatError(path, reason, line_number(Path(path), offset), text)


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
