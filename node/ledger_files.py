"""Ledger files on disk in CCF's chunk layout (host side: opaque entry bytes, framing only).

Entries are appended to the open chunk `ledger_<first>`. Once the chunk has reached `chunk_size` bytes and a
committable entry (a signature transaction) is appended, the chunk is completed: its positions table and
header are written and it is renamed `ledger_<first>-<last>`; when the commit index reaches `<last>` it is
renamed `ledger_<first>-<last>.committed`. Uncommitted suffixes can be truncated, committed entries never.

Crash safety: on open, the open chunk is scanned entry by entry (version, size, seqno in the IV); whatever
follows the last whole entry (a half-written entry, or a table written just before a crash) is cut off and
reported in `recovered_tail`, never read as an entry. A crash only tears what was never committed, so
damage at or below the commit the Raft state records (`committed_hint`) is not a torn tail but a damaged
disk: nothing is cut, the ledger is `damaged` and refuses every write, and the entries after the damage
stay on disk for an operator to repair.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from enclave.ledger.chunks import (
    CHUNK_HEADER_SIZE,
    ChunkFormatError,
    ChunkName,
    chunk_header,
    iter_frames,
    positions_table,
    read_positions,
    table_offset,
)
from enclave.ledger.entry import EntryFormatError, read_frame

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 5 * 1024 * 1024  # CCF's default ledger chunk size


class LedgerFilesError(Exception):
    """The ledger directory cannot be used as asked: a gap between chunks, a truncation of committed
    entries, an append out of order, a seqno that is not on disk."""


class FsyncPolicy(Enum):
    EVERY_APPEND = "every-append"  # fsync after each entry
    ON_FLUSH = "on-flush"  # group commit: the caller calls flush() before acknowledging a batch
    NEVER = "never"  # leave it to the OS (tests, benchmarks)


@dataclass(frozen=True, slots=True)
class RecoveredTail:
    """What `open` cut from the end of the open chunk after a crash."""

    chunk: str
    last_whole_seqno: int
    dropped_bytes: int
    reason: str


@dataclass(slots=True)
class _Chunk:
    name: ChunkName
    positions: list[int]  # file offset of each entry
    end_offset: int  # where the entries stop (the table, or the end of an open chunk)

    def entry_span(self, seqno: int) -> tuple[int, int]:
        index = seqno - self.name.start
        stop = self.positions[index + 1] if index + 1 < len(self.positions) else self.end_offset
        return self.positions[index], stop

    @property
    def last_seqno(self) -> int:
        return self.name.start + len(self.positions) - 1


class LedgerFiles:
    """One node's ledger directory. Opening it scans the chunks and repairs a torn tail (`recovered_tail`)."""

    def __init__(
        self,
        directory: Path,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        fsync: FsyncPolicy = FsyncPolicy.ON_FLUSH,
        committed_hint: int = 0,
    ) -> None:
        self._directory = directory
        self._chunk_size = chunk_size
        self._fsync = fsync
        self._chunks: list[_Chunk] = []
        self._open_fd: int | None = None
        self._unsynced = False
        self.recovered_tail: RecoveredTail | None = None
        self._committed_hint = committed_hint
        # Why this ledger must not be written to (damage below the commit), if it must not.
        self.damaged: str | None = None
        # The seqno before the first entry held: 0, or the snapshot a node started from (its ledger
        # files hold only what follows it).
        self.base = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._load()
        self.committed_seqno = max(
            (c.name.end or 0 for c in self._chunks if c.name.committed), default=self.base
        )

    # -- reading -------------------------------------------------------------------------------

    @property
    def last_seqno(self) -> int:
        return self._chunks[-1].last_seqno if self._chunks else self.base

    def chunk_names(self) -> list[str]:
        return [str(c.name) for c in self._chunks]

    def read(self, first: int, last: int) -> list[bytes]:
        """The raw entries from seqno `first` to `last` inclusive (catch-up of a follower, restart)."""
        if not self.base < first <= last <= self.last_seqno:
            raise LedgerFilesError(f"entries {first}..{last} are not on disk (last is {self.last_seqno})")
        entries: list[bytes] = []
        for chunk in self._chunks:
            lo, hi = max(first, chunk.name.start), min(last, chunk.last_seqno)
            if lo > hi:
                continue
            start, _ = chunk.entry_span(lo)
            _, stop = chunk.entry_span(hi)
            with open(self._path(chunk.name), "rb") as file:
                file.seek(start)
                data = file.read(stop - start)
            for seqno in range(lo, hi + 1):
                begin, end = chunk.entry_span(seqno)
                entries.append(data[begin - start : end - start])
        return entries

    # -- writing -------------------------------------------------------------------------------

    def append(self, seqno: int, raw: bytes, committable: bool) -> None:
        """Appends the entry at `seqno` (the next one); a committable entry may complete the chunk."""
        self._check_writable()
        if seqno != self.last_seqno + 1:
            raise LedgerFilesError(f"append of seqno {seqno} after {self.last_seqno}")
        chunk = self._open_chunk()
        _write_all(self._ensure_open_fd(chunk), raw)
        chunk.positions.append(chunk.end_offset)
        chunk.end_offset += len(raw)
        self._unsynced = True
        if self._fsync is FsyncPolicy.EVERY_APPEND:
            self.flush()
        if committable and chunk.end_offset >= self._chunk_size:
            self._complete(chunk)

    def flush(self) -> None:
        """Group commit: makes every append so far durable (unless the policy is NEVER)."""
        if self._unsynced and self._open_fd is not None and self._fsync is not FsyncPolicy.NEVER:
            os.fsync(self._open_fd)
        self._unsynced = False

    def commit(self, seqno: int) -> None:
        """The commit index reached `seqno`: complete chunks ending at or before it become `.committed`."""
        if seqno > self.last_seqno:
            raise LedgerFilesError(f"cannot commit {seqno}: last seqno on disk is {self.last_seqno}")
        self.committed_seqno = max(self.committed_seqno, seqno)
        for chunk in self._chunks:
            end = chunk.name.end
            if end is not None and not chunk.name.committed and end <= self.committed_seqno:
                self._rename(chunk, ChunkName(chunk.name.start, end, committed=True))

    def truncate(self, seqno: int) -> None:
        """Raft: drops every entry after `seqno`; committed entries are never dropped."""
        self._check_writable()
        if seqno < self.committed_seqno:
            raise LedgerFilesError(
                f"cannot truncate to {seqno}: entries up to {self.committed_seqno} are committed"
            )
        if seqno >= self.last_seqno:
            return
        self._close_fd()
        while self._chunks and self._chunks[-1].name.start > seqno:
            os.remove(self._path(self._chunks.pop().name))
        if not self._chunks:
            return
        chunk = self._chunks[-1]
        if chunk.last_seqno == seqno:
            self._sync_directory()
            return
        _, cut = chunk.entry_span(seqno)
        path = self._path(chunk.name)
        with open(path, "r+b") as file:
            file.truncate(cut)
            file.seek(0)
            file.write(chunk_header(0))
        del chunk.positions[seqno - chunk.name.start + 1 :]
        chunk.end_offset = cut
        if chunk.name.end is not None:
            self._rename(chunk, ChunkName(chunk.name.start))
        self._sync_directory()

    def reset(self, base: int) -> None:
        """The node starts over from a snapshot at `base`: every chunk is removed and the ledger continues
        at `base + 1` (the caller keeps the snapshot file durably first)."""
        self._check_writable()
        self._close_fd()
        for chunk in self._chunks:
            os.remove(self._path(chunk.name))
        self._sync_directory()
        self._chunks = []
        self._unsynced = False
        self.base = self.committed_seqno = base

    def close(self) -> None:
        self.flush()
        self._close_fd()

    # -- internals -----------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.damaged is not None:
            raise LedgerFilesError(f"the ledger is damaged and left as it is: {self.damaged}")

    def _path(self, name: ChunkName) -> Path:
        return self._directory / str(name)

    def _open_chunk(self) -> _Chunk:
        if self._chunks and self._chunks[-1].name.end is None:
            return self._chunks[-1]
        chunk = _Chunk(ChunkName(self.last_seqno + 1), [], CHUNK_HEADER_SIZE)
        self._path(chunk.name).write_bytes(chunk_header(0))
        self._sync_directory()
        self._chunks.append(chunk)
        return chunk

    def _ensure_open_fd(self, chunk: _Chunk) -> int:
        if self._open_fd is None:
            self._open_fd = os.open(self._path(chunk.name), os.O_WRONLY | os.O_APPEND)
        return self._open_fd

    def _close_fd(self) -> None:
        if self._open_fd is not None:
            os.close(self._open_fd)
            self._open_fd = None

    def _complete(self, chunk: _Chunk) -> None:
        """CCF: a complete chunk ends on a signature and carries its positions table."""
        _write_all(self._ensure_open_fd(chunk), positions_table(chunk.positions))
        self._close_fd()
        with open(self._path(chunk.name), "r+b") as file:
            file.write(chunk_header(chunk.end_offset))
            if self._fsync is not FsyncPolicy.NEVER:
                file.flush()
                os.fsync(file.fileno())
        self._unsynced = False
        last = chunk.last_seqno
        self._rename(chunk, ChunkName(chunk.name.start, last, committed=last <= self.committed_seqno))

    def _rename(self, chunk: _Chunk, name: ChunkName) -> None:
        os.rename(self._path(chunk.name), self._path(name))
        chunk.name = name
        self._sync_directory()

    def _sync_directory(self) -> None:
        if self._fsync is not FsyncPolicy.NEVER:
            fd = os.open(self._directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _load(self) -> None:
        names = sorted(
            (n for n in map(ChunkName.parse, os.listdir(self._directory)) if n is not None),
            key=ChunkName.sort_key,
        )
        if names:
            self.base = names[0].start - 1
        for name in names:
            expected_start = self.last_seqno + 1
            if name.start != expected_start:
                raise LedgerFilesError(f"chunk {name} does not follow seqno {self.last_seqno}")
            if self._chunks and self._chunks[-1].name.end is None:
                raise LedgerFilesError(f"chunk {name} follows the open chunk {self._chunks[-1].name}")
            data = self._path(name).read_bytes()
            chunk = self._load_complete(name, data) if name.end is not None else self._load_open(name, data)
            self._chunks.append(chunk)

    def _load_complete(self, name: ChunkName, data: bytes) -> _Chunk:
        try:
            offset = table_offset(data)
            if offset == 0:
                positions = [p for p, _ in iter_frames(data, len(data))]
                offset = len(data)
            else:
                positions = read_positions(data, offset)
        except (ChunkFormatError, EntryFormatError) as exc:
            raise LedgerFilesError(f"complete chunk {name} is damaged: {exc}") from exc
        assert name.end is not None
        if len(positions) != name.end - name.start + 1:
            raise LedgerFilesError(f"chunk {name} holds {len(positions)} entries")
        return _Chunk(name, positions, offset)

    def _load_open(self, name: ChunkName, data: bytes) -> _Chunk:
        positions: list[int] = []
        offset = CHUNK_HEADER_SIZE
        reason = ""
        while offset < len(data):
            try:
                frame = read_frame(data, offset)
            except EntryFormatError as exc:
                reason = str(exc)
                break
            if frame.txid.seqno != name.start + len(positions):
                reason = f"entry at offset {offset} has seqno {frame.txid.seqno}"
                break
            positions.append(offset)
            offset += frame.size
        damaged_seqno = name.start + len(positions)
        if offset < len(data) and damaged_seqno <= self._committed_hint:
            self.damaged = (
                f"chunk {name}: entry {damaged_seqno} is damaged ({reason}) but the Raft state says "
                f"{self._committed_hint} committed"
            )
            log.error("ledger %s; nothing is cut, the node must not write to this ledger", self.damaged)
            return _Chunk(name, positions, offset)
        if offset < len(data) or data[:CHUNK_HEADER_SIZE] != chunk_header(0):
            # Cut what follows the last whole entry, and clear a header left by an interrupted completion.
            with open(self._path(name), "r+b") as file:
                file.truncate(max(offset, CHUNK_HEADER_SIZE))
                file.seek(0)
                file.write(chunk_header(0))
            if offset < len(data):
                self.recovered_tail = RecoveredTail(
                    str(name), name.start + len(positions) - 1, len(data) - offset, reason
                )
                log.warning(
                    "ledger chunk %s: dropped %d bytes after seqno %d (%s)",
                    name,
                    len(data) - offset,
                    name.start + len(positions) - 1,
                    reason,
                )
        return _Chunk(name, positions, offset)


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (a signal, a full disk); the rest must still follow in order."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
