"""What Raft reads from durable storage (etcd storage.go), and an in-memory implementation.

Raft only reads through `Storage`; the application writes to it while it persists a `Ready`
(snapshot, then entries, then hard state) and before it calls `Raft.advance`. After a crash a new
`Raft` over the same storage resumes from exactly what was made durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from consensus.errors import CompactedError, InvalidSnapshotError, UnavailableError
from consensus.ready import Ready
from consensus.types import Configuration, Entry, HardState, Index, Snapshot, Term


class Storage(Protocol):
    """The durable log: a snapshot (index 0 with the initial configuration when none was taken) and
    the entries after it."""

    def hard_state(self) -> HardState: ...

    def snapshot(self) -> Snapshot:
        """The latest snapshot; entries up to its index are compacted."""
        ...

    def first_index(self) -> Index:
        """The index of the first entry still held (the snapshot's index + 1)."""
        ...

    def last_index(self) -> Index: ...

    def term(self, index: Index) -> Term:
        """The term of the entry at `index`; the snapshot's index answers the snapshot's term.
        Raises CompactedError below it and UnavailableError past the last index."""
        ...

    def entries(self, lo: Index, hi: Index) -> Sequence[Entry]:
        """Entries with lo <= index < hi; raises CompactedError or UnavailableError."""
        ...


class InMemoryStorage:
    """A `Storage` in memory; the simulator treats it as the disk that survives a crash."""

    def __init__(self, configuration: Configuration) -> None:
        self._hard_state = HardState(Term(0), None, Index(0))
        self._snapshot = Snapshot(Index(0), Term(0), configuration)
        # _entries[i] has index _snapshot.index + 1 + i.
        self._entries: list[Entry] = []

    # Storage (read side)

    def hard_state(self) -> HardState:
        return self._hard_state

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def first_index(self) -> Index:
        return Index(self._snapshot.index + 1)

    def last_index(self) -> Index:
        return Index(self._snapshot.index + len(self._entries))

    def term(self, index: Index) -> Term:
        offset = index - self._snapshot.index
        if offset == 0:
            return self._snapshot.term
        if offset < 0:
            raise CompactedError(f"index {index} is compacted (snapshot at {self._snapshot.index})")
        if offset > len(self._entries):
            raise UnavailableError(f"index {index} is past the last index {self.last_index()}")
        return self._entries[offset - 1].term

    def entries(self, lo: Index, hi: Index) -> Sequence[Entry]:
        base = self._snapshot.index + 1
        if lo < base:
            raise CompactedError(f"index {lo} is compacted (snapshot at {self._snapshot.index})")
        if hi > base + len(self._entries):
            raise UnavailableError(f"index {hi - 1} is past the last index {self.last_index()}")
        return self._entries[lo - base : hi - base]

    # Writes (the application persisting a Ready)

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def append(self, entries: Sequence[Entry]) -> None:
        """Append `entries`, first dropping any stored entry at or after entries[0].index (Raft 5.3:
        a conflicting suffix is overwritten)."""
        if not entries:
            return
        first = entries[0].index
        base = self._snapshot.index + 1
        if first < base:
            raise CompactedError(f"cannot overwrite compacted index {first}")
        if first > base + len(self._entries):
            raise UnavailableError(f"gap: appending {first} after {self.last_index()}")
        del self._entries[first - base :]
        self._entries.extend(entries)

    def persist(self, ready: Ready) -> None:
        """Step 2 of handling a Ready: snapshot, then entries, then hard state."""
        if ready.snapshot is not None:
            self.apply_snapshot(ready.snapshot)
        self.append(ready.entries)
        if ready.hard_state is not None:
            self.set_hard_state(ready.hard_state)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace everything with a snapshot received from the leader (Raft 7)."""
        if snapshot.index <= self._snapshot.index:
            raise InvalidSnapshotError(f"snapshot {snapshot.index} is older than {self._snapshot.index}")
        self._snapshot = snapshot
        self._entries = []

    def compact(self, index: Index, configuration: Configuration, data: bytes) -> Snapshot:
        """Log compaction (Raft 7): take a snapshot of the application's state `data` at `index` (an
        applied index; `configuration` is the one in force there) and drop the entries it covers."""
        if index <= self._snapshot.index:
            raise InvalidSnapshotError(f"index {index} is already compacted")
        if index > self.last_index():
            raise InvalidSnapshotError(f"index {index} is past the last index {self.last_index()}")
        snapshot = Snapshot(index, self.term(index), configuration, data)
        del self._entries[: index - self._snapshot.index]
        self._snapshot = snapshot
        return snapshot
