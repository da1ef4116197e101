"""The Raft log: the stable part in `Storage` plus the unstable tail not yet persisted (etcd log.go,
log_unstable.go).

Besides the entries, the log keeps two short indexes that Raft asks about on every commit and vote:
where the committable entries are (CCF) and where the configuration changes are. Both are cut back
when a conflicting suffix is overwritten, so a truncated configuration change stops being in force.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from consensus.errors import CompactedError, RaftUsageError, UnavailableError
from consensus.storage import Storage
from consensus.types import Configuration, Entry, Index, Snapshot, Term


class RaftLog:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        snapshot = storage.snapshot()
        last = storage.last_index()
        self._unstable: list[Entry] = []
        self._offset = Index(last + 1)  # index of _unstable[0]
        self.unstable_snapshot: Snapshot | None = None
        self.committed = max(snapshot.index, storage.hard_state().commit)
        self.applied = snapshot.index
        # The snapshot's index is committed, so it counts as committable.
        self._committable: list[Index] = [snapshot.index]
        self._configs: list[tuple[Index, Configuration]] = [(snapshot.index, snapshot.configuration)]
        self._index_entries(storage.entries(Index(snapshot.index + 1), Index(last + 1)))

    # Reading

    def first_index(self) -> Index:
        if self.unstable_snapshot is not None:
            return Index(self.unstable_snapshot.index + 1)
        return self.storage.first_index()

    def last_index(self) -> Index:
        if self._unstable:
            return Index(self._offset + len(self._unstable) - 1)
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.index
        return self.storage.last_index()

    def last_stable_index(self) -> Index:
        return Index(self._offset - 1)

    def term(self, index: Index) -> Term:
        """Raises CompactedError or UnavailableError outside [first_index - 1, last_index]."""
        offset = index - self._offset
        if 0 <= offset < len(self._unstable):
            return self._unstable[offset].term
        snapshot = self.unstable_snapshot
        if snapshot is not None:
            if index == snapshot.index:
                return snapshot.term
            if index < snapshot.index:
                raise CompactedError(f"index {index} is covered by the snapshot being installed")
            raise UnavailableError(f"index {index} is past the last index")
        if index >= self._offset:
            raise UnavailableError(f"index {index} is past the last index {self.last_index()}")
        return self.storage.term(index)

    def matches(self, index: Index, term: Term) -> bool:
        try:
            return self.term(index) == term
        except (CompactedError, UnavailableError):
            return False

    def entries(self, lo: Index, hi: Index) -> list[Entry]:
        """Entries with lo <= index < hi; raises CompactedError below the first index."""
        if lo < self.first_index():
            raise CompactedError(f"index {lo} is compacted")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} is past the last index {self.last_index()}")
        if lo >= hi:
            return []
        if lo >= self._offset:
            return self._unstable[lo - self._offset : hi - self._offset]
        stable = list(self.storage.entries(lo, Index(min(hi, self._offset))))
        if hi > self._offset:
            stable.extend(self._unstable[: hi - self._offset])
        return stable

    def unstable_entries(self) -> list[Entry]:
        return self._unstable

    def find_conflict_by_term(self, index: Index, term: Term) -> tuple[Index, Term]:
        """The last entry at or before `index` whose term is at most `term` (etcd: findConflictByTerm).
        Entries in between cannot match the leader's, so a probe skips them all."""
        while index > 0:
            try:
                entry_term = self.term(index)
            except CompactedError:
                return index, Term(0)
            if entry_term <= term:
                return index, entry_term
            index = Index(index - 1)
        return Index(0), Term(0)

    # CCF's committable entries and the configurations in the log

    def last_committable(self) -> tuple[Index, Term]:
        """CCF: votes compare the last committable entry (term, then index)."""
        index = self._committable[-1]
        return index, self.term(index)

    def committable_at_or_before(self, index: Index) -> Index:
        """The largest committable index <= `index` (the commit index only lands there); 0 when the
        log no longer tracks one that low (it is below the commit index then)."""
        position = bisect_right(self._committable, index) - 1
        return self._committable[position] if position >= 0 else Index(0)

    def configuration(self) -> Configuration:
        """Membership changes take effect on append: the last configuration in the log rules."""
        return self._configs[-1][1]

    def configuration_at(self, index: Index) -> Configuration:
        """The configuration in force at `index` (at or after the first index - 1)."""
        if index < self._configs[0][0]:
            raise CompactedError(f"the configuration at {index} is compacted")
        position = bisect_right(self._configs, index, key=lambda pair: pair[0]) - 1
        return self._configs[position][1]

    def last_configuration_index(self) -> Index:
        return self._configs[-1][0]

    def _index_entries(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            if entry.committable:
                self._committable.append(entry.index)
            if entry.change is not None:
                self._configs.append((entry.index, self._configs[-1][1].apply(entry.change)))

    def _forget_from(self, index: Index) -> None:
        while self._committable[-1] >= index:
            self._committable.pop()
        while self._configs[-1][0] >= index:
            self._configs.pop()

    # Writing

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries that follow the entry at entries[0].index - 1, dropping any suffix from there.
        Committed entries are never dropped: that would be our bug, so it raises."""
        if not entries:
            return
        first = entries[0].index
        if first <= self.committed:
            raise RaftUsageError(f"would overwrite committed index {first} (commit {self.committed})")
        last = self.last_index()
        if first > last + 1:
            raise RaftUsageError(f"would leave a gap: appending {first} after {last}")
        if first <= last:
            self._forget_from(first)
        end = self._offset + len(self._unstable)
        if first == end:
            self._unstable.extend(entries)
        elif first <= self._offset:
            # Replaces the unstable tail and some stable entries: the application's next append
            # overwrites them on disk too.
            self._offset = first
            self._unstable = list(entries)
        else:
            del self._unstable[first - self._offset :]
            self._unstable.extend(entries)
        self._index_entries(entries)

    def maybe_append(
        self, prev_index: Index, prev_term: Term, commit: Index, entries: Sequence[Entry]
    ) -> Index | None:
        """Raft 5.3 receiver rules: None when the log does not hold (prev_index, prev_term); else the
        index of the last new entry, after dropping conflicting entries and appending the new ones."""
        if not self.matches(prev_index, prev_term):
            return None
        last_new = Index(prev_index + len(entries))
        conflict = self._find_conflict(entries)
        if conflict:
            self.append(entries[conflict - prev_index - 1 :])
        self.commit_to(Index(min(commit, last_new)))
        return last_new

    def _find_conflict(self, entries: Sequence[Entry]) -> Index:
        """The index of the first entry that is new or differs in term; 0 when all are held."""
        last = self.last_index()
        for entry in entries:
            if entry.index > last or not self.matches(entry.index, entry.term):
                return entry.index
        return Index(0)

    def commit_to(self, index: Index) -> bool:
        """Advance the commit index to the committable entry at or before `index` (CCF), never back."""
        index = self.committable_at_or_before(index)
        if index <= self.committed:
            return False
        self.committed = index
        # Only the last committable entry at or before the commit index is ever asked for again.
        position = bisect_right(self._committable, index) - 1
        if position > 0:
            del self._committable[:position]
        return True

    def restore(self, snapshot: Snapshot) -> None:
        """Raft 7: replace the whole log with a snapshot received from the leader."""
        self.unstable_snapshot = snapshot
        self._unstable = []
        self._offset = Index(snapshot.index + 1)
        self.committed = snapshot.index
        self._committable = [snapshot.index]
        self._configs = [(snapshot.index, snapshot.configuration)]

    # The application made a Ready durable / applied it

    def stable_to(self, index: Index, term: Term) -> None:
        if index < self._offset or index >= self._offset + len(self._unstable):
            return
        if self._unstable[index - self._offset].term != term:
            return
        del self._unstable[: index - self._offset + 1]
        self._offset = Index(index + 1)

    def stable_snapshot_to(self, index: Index) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.index == index:
            self.unstable_snapshot = None
            self.applied = max(self.applied, index)

    def next_committed_entries(self) -> list[Entry]:
        """Committed entries not yet handed to the application (none while a snapshot is pending)."""
        if self.unstable_snapshot is not None or self.committed <= self.applied:
            return []
        return self.entries(Index(self.applied + 1), Index(self.committed + 1))

    def applied_to(self, index: Index) -> None:
        if index > self.committed or index < self.applied:
            raise RaftUsageError(f"applied {index} outside [{self.applied}, {self.committed}]")
        self.applied = index
