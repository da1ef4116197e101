"""The KV store: named maps of versioned keys, through the lifecycle consensus gives them.

Versions are seqnos: 1-based, dense, 0 is the empty store. A version is written either by a local
transaction (`begin` ... `Transaction.commit`, on the primary, at the next version) or by `apply` of a
write set received from the primary or read back from the ledger (followers, replay). It is *pending*
until `commit(version)` marks it committed (Raft committed it); pending versions may be undone by
`rollback(version)` when a new leader truncates the log (Raft 5.3/5.4.1; CCF: the uncommittable tail).
Committing also compacts: history older than the newest committed entry of each touched key, and
committed tombstones, are dropped.
"""

from __future__ import annotations

from collections import deque

from enclave.kv.committed_state import (
    CommittedDelta,
    CommittedState,
    KeyChange,
    VersionedValue,
    decode_snapshot,
    encode_snapshot,
)
from enclave.kv.transaction import Committed, Conflict, ReadOnly, Transaction, TxResult
from enclave.kv.versioned_map import VersionedMap
from enclave.kv.write_set import WriteSet


class VersionError(ValueError):
    """A version out of sequence: `apply` not at the next version, or `commit` beyond the last one."""


class RollbackOfCommittedVersion(AssertionError):
    """Our bug: consensus asked to undo a committed version (Raft never truncates committed entries)."""


class KvStore:
    """Maps of versioned keys with optimistic transactions; pure, single-threaded."""

    __slots__ = ("_commit_version", "_generation", "_maps", "_pending", "_version")

    def __init__(self) -> None:
        self._maps: dict[str, VersionedMap] = {}
        self._version = 0
        self._commit_version = 0
        # Bumped by every rollback: a version number can then be reused for different writes, so a
        # transaction that began before it cannot trust version equality any more.
        self._generation = 0
        # Pending versions in order, with what each wrote (for rollback, compaction and the delta).
        self._pending: deque[tuple[int, WriteSet]] = deque()

    @classmethod
    def from_committed_state(cls, state: CommittedState) -> KvStore:
        """A store whose current and committed version is `state.version` (restart, joining node)."""
        store = cls()
        for map_name, entries in state.maps.items():
            versioned_map = store._maps[map_name] = VersionedMap()
            for key, (version, value) in entries.items():
                versioned_map.restore(key, version, value)
        store._version = store._commit_version = state.version
        return store

    @classmethod
    def from_snapshot(cls, snapshot: bytes) -> KvStore:
        """Restore from `snapshot()` bytes (raises SnapshotFormatError on anything else)."""
        return cls.from_committed_state(decode_snapshot(snapshot))

    @property
    def version(self) -> int:
        """The newest version in the store (pending or committed)."""
        return self._version

    @property
    def commit_version(self) -> int:
        return self._commit_version

    # -- transactions ------------------------------------------------------------------------------

    def begin(self) -> Transaction:
        """A transaction reading the store as of its current version."""
        return Transaction(self, self._maps, self._version, self._generation)

    def begin_committed(self) -> Transaction:
        """A transaction reading the committed state only (linearizable reads: pending versions may
        still be rolled back). For reading only: never commit it."""
        return Transaction(self, self._maps, self._commit_version, self._generation)

    def commit_transaction(self, tx: Transaction) -> TxResult:
        """Called by `Transaction.commit`: validate the read set (OCC), then write at the next version."""
        if tx.generation != self._generation:
            raise Conflict(f"versions after {self._version} were rolled back since the transaction began")
        tx.check_reads_current(self._maps, self._version)
        if not tx.has_writes():
            return ReadOnly(self._version)
        write_set = tx.write_set()
        version = self._version + 1
        self._write(write_set, version)
        return Committed(version, write_set)

    # -- consensus lifecycle -----------------------------------------------------------------------

    def apply(self, write_set: WriteSet, version: int) -> None:
        """Apply a write set decided elsewhere (from the primary, or replayed from the ledger) at
        `version`, which must be the next one. No conflict check: the primary already did it."""
        if version != self._version + 1:
            raise VersionError(f"cannot apply version {version}: the store is at {self._version}")
        self._write(write_set, version)

    def commit(self, version: int) -> CommittedDelta:
        """Mark every version up to `version` committed, compact what no rollback can need any more,
        and return what became committed. Committing at or below the commit version changes nothing."""
        if version > self._version:
            raise VersionError(f"cannot commit {version}: the store is at {self._version}")
        from_version = self._commit_version
        if version <= from_version:
            return CommittedDelta(from_version, from_version)
        changes: dict[str, dict[bytes, KeyChange]] = {}
        committed: list[WriteSet] = []
        while self._pending and self._pending[0][0] <= version:
            written_at, write_set = self._pending.popleft()
            committed.append(write_set)
            _collect_changes(changes, write_set, written_at)
        self._commit_version = version
        for write_set in committed:
            for map_name, map_writes in write_set.maps.items():
                versioned_map = self._maps[map_name]
                for key in map_writes.writes:
                    versioned_map.compact(key, version)
                for key in map_writes.removals:
                    versioned_map.compact(key, version)
        return CommittedDelta(from_version, version, changes)

    def rollback(self, version: int) -> None:
        """Undo every pending version after `version`: afterwards the store is exactly as it was at
        `version`. Undoing a committed version is our bug and raises RollbackOfCommittedVersion."""
        if version < self._commit_version:
            raise RollbackOfCommittedVersion(
                f"rollback to {version} would undo committed versions up to {self._commit_version}"
            )
        if version >= self._version:
            return
        while self._pending and self._pending[-1][0] > version:
            written_at, write_set = self._pending.pop()
            for map_name, map_writes in write_set.maps.items():
                versioned_map = self._maps[map_name]
                for key in map_writes.writes:
                    versioned_map.undo(key, written_at, self._commit_version)
                for key in map_writes.removals:
                    versioned_map.undo(key, written_at, self._commit_version)
        self._version = version
        self._generation += 1

    # -- committed state ---------------------------------------------------------------------------

    def committed_state(self) -> CommittedState:
        """Every present key at the commit version."""
        maps: dict[str, dict[bytes, VersionedValue]] = {}
        for map_name, versioned_map in self._maps.items():
            entries = {
                key: VersionedValue(version, value)
                for key, version, value in versioned_map.visible_range(b"", b"", self._commit_version)
            }
            if entries:
                maps[map_name] = entries
        return CommittedState(self._commit_version, maps)

    def snapshot(self) -> bytes:
        """The committed state in its canonical encoding (see `committed_state`)."""
        return encode_snapshot(self.committed_state())

    def _write(self, write_set: WriteSet, version: int) -> None:
        maps = self._maps
        for map_name, map_writes in write_set.maps.items():
            versioned_map = maps.get(map_name)
            if versioned_map is None:
                versioned_map = maps[map_name] = VersionedMap()
            for key, value in map_writes.writes.items():
                versioned_map.append(key, version, value)
            for key in map_writes.removals:
                versioned_map.append(key, version, None)
        self._pending.append((version, write_set))
        self._version = version


def _collect_changes(changes: dict[str, dict[bytes, KeyChange]], write_set: WriteSet, version: int) -> None:
    """Fold one version's writes into `changes`, numbering them in canonical order (maps by name;
    writes, then removals, by key) so that `(version, position)` names each write uniquely."""
    position = 0
    for map_name in sorted(write_set.maps):
        map_writes = write_set.maps[map_name]
        if not map_writes.writes and not map_writes.removals:
            continue
        map_changes = changes.setdefault(map_name, {})
        for key in sorted(map_writes.writes):
            map_changes[key] = KeyChange(version, position, map_writes.writes[key])
            position += 1
        for key in sorted(map_writes.removals):
            map_changes[key] = KeyChange(version, position, None)
            position += 1
