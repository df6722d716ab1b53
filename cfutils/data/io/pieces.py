"""Reading text in pieces of whole lines, and finding the line at fault when a piece fails to parse.

A piece is about :data:`PIECE_BYTES` of whole lines from one or more consecutive files, parsed
at once by ``pyarrow.csv`` on all cores. Only when that vectorised parse fails is the text
walked line by line (:meth:`Piece.lines`) to name the file, line number and text of the first
bad line. The field checks here are shared by the ratings and the Prize's files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from cfutils.core.memory import MiB
from cfutils.data.io.files import open_binary
from cfutils.data.io.schema import MAX_DIGITS, MAX_ID, MAX_LINE_BYTES, DataFormatError

#: Size of the pieces of whole lines that are parsed at once (bounds peak memory).
PIECE_BYTES = 64 * MiB


INTEGER = re.compile(rb"[ \t]*-?\d{1,%d}[ \t]*" % MAX_DIGITS)
DECIMAL = re.compile(rb"[ \t]*[-+]?(\d{1,%d}\.?\d{0,%d}|\.\d{1,%d})([eE][-+]?\d{1,3})?[ \t]*" % ((MAX_DIGITS,) * 3))
_ISO_DATE = re.compile(rb"[ \t]*(\d{4}-\d{2}-\d{2})[ \t]*")


@dataclass(frozen=True)
class _Origin:
    """The lines of a piece from ``piece_offset`` on are those of ``path`` from ``file_offset`` on."""

    path: Path
    piece_offset: int
    file_offset: int


@dataclass(frozen=True)
class Piece:
    """Whole lines (``data`` ends with a newline) from one or more consecutive files."""

    data: bytes
    origins: tuple[_Origin, ...]

    def lines(self) -> Iterator[tuple[Path, int, bytes]]:
        """(file, 1-based line number, text without line ending) of every line; error path only."""
        ends = [o.piece_offset for o in self.origins[1:]] + [len(self.data)]
        for origin, end in zip(self.origins, ends):
            first = line_number(origin.path, origin.file_offset)
            for index, text in enumerate(self.data[origin.piece_offset : end].split(b"\n")[:-1]):
                yield origin.path, first + index, text.removesuffix(b"\r")


def line_number(path: Path, offset: int) -> int:
    """1-based number of the line starting at byte ``offset`` of a file (counts newlines)."""
    newlines = 0
    with open_binary(path) as stream:
        while offset > 0 and (block := stream.read(min(offset, PIECE_BYTES))):
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def _line_blocks(path: Path, block_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, block) of blocks of about ``block_bytes`` of whole lines of one file.

    Each block ends with ``\\n``: a missing final newline is added and trailing blank
    lines are dropped. An empty (or blank) file raises :class:`DataFormatError`.
    """
    offset = 0
    with open_binary(path) as stream:
        block = _read_whole_lines(stream, block_bytes, path, offset)
        while block:
            following = _read_whole_lines(stream, block_bytes, path, offset + len(block))
            if not following:
                block = block.rstrip(b"\r\n") + b"\n" if block.strip(b"\r\n") else b""
            if block:
                yield offset, block
            offset, block = offset + len(block), following
    if offset == 0:
        raise DataFormatError(path, "empty file", 1, "")


def _read_whole_lines(stream, size: int, path: Path, offset: int) -> bytes:
    """About ``size`` bytes from byte ``offset`` of ``path``, completed to the end of a line (b"" at
    the end of the stream). A line longer than :data:`MAX_LINE_BYTES` raises :class:`DataFormatError`
    with its number and its first 80 bytes."""
    block = stream.read(size)
    if block and not block.endswith(b"\n"):
        block += stream.readline(MAX_LINE_BYTES + 1)
    if len(block) > MAX_LINE_BYTES:
        ends = np.flatnonzero(np.frombuffer(block, np.uint8) == ord("\n"))
        starts = np.r_[0, ends + 1]
        lengths = np.r_[ends, len(block)] - starts
        if lengths.max() > MAX_LINE_BYTES:
            start = int(starts[np.argmax(lengths > MAX_LINE_BYTES)])
            text = block[start : start + 80].decode("latin-1")
            number = line_number(path, offset + start)
            raise DataFormatError(path, f"line longer than {MAX_LINE_BYTES:,} bytes", number, text)
    return block


def read_pieces(files: Sequence[Path], piece_bytes: int, bar: tqdm) -> Iterator[Piece]:
    """Pieces of about ``piece_bytes``; small files are packed together, big ones split."""
    parts: list[bytes] = []
    origins: list[_Origin] = []
    size = 0
    for path in files:
        for file_offset, block in _line_blocks(path, piece_bytes):
            if parts and size + len(block) > piece_bytes:
                yield Piece(b"".join(parts), tuple(origins))
                parts, origins, size = [], [], 0
            origins.append(_Origin(path, size, file_offset))
            parts.append(block)
            size += len(block)
            bar.update(len(block))
    if parts:
        yield Piece(b"".join(parts), tuple(origins))


def concatenate_parts(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Concatenate and free the parts (keeps peak memory near one copy of the column)."""
    values = np.concatenate(parts) if parts else np.empty(0, dtype)
    parts.clear()
    return values


def csv_options(names: list[str], types: dict, delimiter: str, skip_rows: int = 0, on_invalid_row=None):
    """Strict pyarrow CSV options: no quoting, no nulls, no blank lines, all threads."""
    return {
        "read_options": pa_csv.ReadOptions(column_names=names, skip_rows=skip_rows, use_threads=True),
        "parse_options": pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid_row,
        ),
        "convert_options": pa_csv.ConvertOptions(
            column_types=types, null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    }


def piece_column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def days_to_seconds(days: np.ndarray) -> np.ndarray:
    """date32 day numbers -> datetime64[s] at midnight (fast integer arithmetic)."""
    return (days.astype(np.int64) * 86_400).view("datetime64[s]")


class BadPiece(Exception):
    """The vectorised parse of a piece failed: find the first bad line."""


def is_id(text: bytes) -> bool:
    return bool(INTEGER.fullmatch(text)) and 0 <= int(text) <= MAX_ID


def iso_date(text: bytes) -> dt.date | None:
    """The date of a ``YYYY-MM-DD`` field, or None when it is not one."""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match[1].decode())
    except ValueError:
        return None


def unlocated_error(piece: Piece) -> DataFormatError:
    """Fallback when the line-by-line check finds nothing the vectorised parse rejected."""
    origin = piece.origins[0]
    first = line_number(origin.path, origin.file_offset)
    return DataFormatError(origin.path, f"unparseable data in the {len(piece.data)} bytes from line {first} on")
