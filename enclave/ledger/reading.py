"""Reading a ledger directory's chunks in seqno order, checking their framing (for audit and dump).

Pure: the caller lists the file names and supplies a function that returns a chunk's bytes, so a long
ledger is read one chunk at a time. Every framing problem is a `LedgerReadError` naming the first seqno
it affects: a missing or overlapping chunk, an entry cut short, an entry out of place, a chunk whose name,
positions table or last entry disagrees with its content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from enclave.ledger.chunks import (
    CHUNK_HEADER_SIZE,
    ChunkFormatError,
    ChunkName,
    read_positions,
    table_offset,
)
from enclave.ledger.entry import EntryFormatError, TruncatedEntryError, read_frame


class LedgerReadError(Exception):
    """The first place where the ledger's bytes are not a well-formed, contiguous ledger."""

    def __init__(self, seqno: int, reason: str, chunk: str | None = None) -> None:
        super().__init__(f"seqno {seqno}: {reason}" + (f" (in {chunk})" if chunk else ""))
        self.seqno = seqno
        self.reason = reason
        self.chunk = chunk


@dataclass(frozen=True, slots=True)
class ChunkEntry:
    """One entry as read from its chunk; `last_in_chunk` lets the auditor check chunks end on signatures."""

    chunk: ChunkName
    seqno: int
    raw: bytes
    last_in_chunk: bool


def ledger_chunks(file_names: Iterable[str], include_open: bool = True) -> list[ChunkName]:
    """The ledger chunks among `file_names`, in seqno order."""
    chunks = sorted((n for n in map(ChunkName.parse, file_names) if n is not None), key=ChunkName.sort_key)
    return [c for c in chunks if include_open or c.end is not None]


def read_entries(
    chunks: list[ChunkName], read_chunk: Callable[[str], bytes], first_seqno: int = 1
) -> Iterator[ChunkEntry]:
    """Every entry of the chunks in order, checking that seqnos run from `first_seqno` without gap or
    overlap (1 for a whole ledger; S + 1 for a ledger that starts from a snapshot at S)."""
    next_seqno = first_seqno
    for index, chunk in enumerate(chunks):
        name = str(chunk)
        if chunk.start != next_seqno:
            raise LedgerReadError(next_seqno, _misplaced(name, chunk.start, next_seqno, index == 0), name)
        if chunk.end is None and index != len(chunks) - 1:
            raise LedgerReadError(next_seqno, "an open chunk is followed by other chunks", name)
        entries = list(_chunk_entries(chunk, read_chunk(name)))
        for position, (seqno, raw) in enumerate(entries):
            yield ChunkEntry(chunk, seqno, raw, position == len(entries) - 1)
        next_seqno = chunk.start + len(entries)


def _misplaced(name: str, start: int, expected: int, is_first: bool) -> str:
    if start > expected:
        return f"chunk {name} starts at {start}: seqnos {expected}..{start - 1} are missing"
    if is_first:
        return f"chunk {name} starts at {start}, before seqno {expected} where the ledger starts"
    return f"chunk {name} overlaps the previous chunk"


def _chunk_entries(chunk: ChunkName, data: bytes) -> Iterator[tuple[int, bytes]]:
    name = str(chunk)
    try:
        offset = table_offset(data)
    except ChunkFormatError as exc:
        raise LedgerReadError(chunk.start, str(exc), name) from exc
    table: list[int] | None = None
    end = len(data)
    if offset:
        try:
            table = read_positions(data, offset)
            end = offset
        except ChunkFormatError:
            table = None  # reported below, once the entries show how far the chunk really goes
    view = memoryview(data)[:end]
    positions: list[int] = []
    position = CHUNK_HEADER_SIZE
    while position < end:
        seqno = chunk.start + len(positions)
        try:
            frame = read_frame(view, position)
        except TruncatedEntryError as exc:
            raise LedgerReadError(seqno, f"entry cut short: the chunk is truncated ({exc})", name) from exc
        except EntryFormatError as exc:
            raise LedgerReadError(seqno, f"entry framing: {exc}", name) from exc
        if frame.txid.seqno != seqno:
            raise LedgerReadError(
                seqno,
                f"found the entry of seqno {frame.txid.seqno} where {seqno} belongs "
                "(an entry is missing or chunks are out of order)",
                name,
            )
        if chunk.end is not None and seqno > chunk.end:
            raise LedgerReadError(seqno, f"chunk {name} holds entries beyond its last seqno", name)
        positions.append(position)
        yield seqno, data[position : position + frame.size]
        position += frame.size
    held = chunk.start + len(positions) - 1
    if chunk.end is not None and held < chunk.end:
        raise LedgerReadError(held + 1, f"chunk {name} ends before seqno {chunk.end}", name)
    if offset and table is None:
        raise LedgerReadError(
            max(held, chunk.start), f"chunk {name}: positions table is damaged or missing", name
        )
    if table is not None and table != positions:
        first_bad = next((i for i, (a, b) in enumerate(zip(table, positions, strict=False)) if a != b), None)
        seqno = chunk.start + (len(positions) if first_bad is None else first_bad)
        raise LedgerReadError(seqno, f"chunk {name}: positions table disagrees with the entries", name)
