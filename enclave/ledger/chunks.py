"""CCF's ledger chunk layout (ccf-formats.md "Ledger files"), shared by the host's files and the auditor.

A chunk file starts with an 8-byte LE offset of its positions table (0 while the chunk is open), then its
entries back to back, then (once complete) the table: one u32 LE file offset per entry. Names:
`ledger_<first>` (open), `ledger_<first>-<last>` (complete: ends on a signature transaction) and
`ledger_<first>-<last>.committed` (every entry in it is committed).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from enclave.ledger.entry import EntryFrame, read_frame

CHUNK_HEADER_SIZE = 8
POSITION_SIZE = 4
COMMITTED_SUFFIX = ".committed"
_CHUNK_NAME = re.compile(r"ledger_(\d+)(?:-(\d+))?(\.committed)?")


class ChunkFormatError(ValueError):
    """A chunk whose header, positions table or name does not match its content."""


@dataclass(frozen=True, slots=True)
class ChunkName:
    start: int
    end: int | None = None
    committed: bool = False

    def __post_init__(self) -> None:
        if self.start < 1 or (self.end is not None and self.end < self.start):
            raise ChunkFormatError(f"chunk range {self.start}-{self.end} is not a seqno range")
        if self.committed and self.end is None:
            raise ChunkFormatError("an open chunk cannot be committed")

    def __str__(self) -> str:
        name = f"ledger_{self.start}"
        if self.end is not None:
            name += f"-{self.end}"
        return name + (COMMITTED_SUFFIX if self.committed else "")

    def sort_key(self) -> tuple[int, int, bool]:
        """Seqno order; for the same start (a damaged directory), the shorter chunk first."""
        return (self.start, -1 if self.end is None else self.end, self.committed)

    @classmethod
    def parse(cls, file_name: str) -> ChunkName | None:
        """The chunk a file name denotes, or None for a file that is not a ledger chunk."""
        match = _CHUNK_NAME.fullmatch(file_name)
        if match is None:
            return None
        try:
            return cls(int(match[1]), int(match[2]) if match[2] else None, bool(match[3]))
        except ChunkFormatError:
            return None


def chunk_header(table_offset: int) -> bytes:
    return struct.pack("<Q", table_offset)


def positions_table(positions: list[int]) -> bytes:
    return struct.pack(f"<{len(positions)}I", *positions)


def table_offset(data: bytes) -> int:
    if len(data) < CHUNK_HEADER_SIZE:
        raise ChunkFormatError(f"chunk of {len(data)} bytes has no header")
    offset: int = struct.unpack_from("<Q", data)[0]
    return offset


def read_positions(data: bytes, offset: int) -> list[int]:
    """The positions table that starts at `offset` and runs to the end of the chunk."""
    table = data[offset:]
    if offset < CHUNK_HEADER_SIZE or offset > len(data) or len(table) % POSITION_SIZE:
        raise ChunkFormatError(f"positions table at {offset} does not fit a chunk of {len(data)} bytes")
    return [p for (p,) in struct.iter_unpack("<I", table)]


def iter_frames(data: bytes | memoryview, end: int) -> Iterator[tuple[int, EntryFrame]]:
    """The framing of each entry between the chunk header and `end`; raises `EntryFormatError` at the first
    entry that is cut short or malformed."""
    view = memoryview(data)[:end]
    offset = CHUNK_HEADER_SIZE
    while offset < end:
        frame = read_frame(view, offset)
        yield offset, frame
        offset += frame.size
