"""A transaction: reads from a consistent snapshot, buffered writes, and the read set that optimistic
concurrency control checks at commit.

Rules (CCF's KV transactions):
- Reads see the store as of the snapshot version taken at `begin`, overlaid with the transaction's own
  writes (read-your-writes). A read of a key the transaction wrote itself is not a dependency.
- Every other read is recorded with the version it saw (0 for absent), and every scan with the exact
  key range it looked at and the `(key, version)` pairs it found there.
- At commit the read set is checked against the store's current state: if any recorded key now has a
  different version, or a scanned range now holds different keys or versions (a phantom), the
  transaction conflicts and must be re-executed. Otherwise it serialises at its commit point, as if it
  had run alone at the head of the store. Blind writes (never read) cannot conflict.
- Read-only transactions are validated too, so they serialise at their commit point as well.
- As in any OCC scheme without opacity, a transaction that will conflict may have seen a mix of its
  snapshot and newer state (after Raft commit compacted history under it); one that commits cannot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from enclave.kv.versioned_map import StaleSnapshot, VersionedMap
from enclave.kv.write_set import MapWrites, WriteSet

if TYPE_CHECKING:
    from enclave.kv.store import KvStore


class Conflict(Exception):
    """Optimistic concurrency: something this transaction read changed before it could commit.
    Nothing was written; re-execute the transaction (see `enclave.kv.execute`)."""


class TransactionFinished(Exception):
    """API misuse: the transaction was already committed or abandoned after a conflict."""


@dataclass(frozen=True, slots=True)
class Committed:
    """The transaction's writes are in the store at `version` (pending until Raft commits it)."""

    version: int
    write_set: WriteSet


@dataclass(frozen=True, slots=True)
class ReadOnly:
    """A transaction that wrote nothing: its reads were still current at `read_version`; no version
    was used (CCF: read-only transactions are not replicated)."""

    read_version: int


TxResult = Committed | ReadOnly


@dataclass(frozen=True, slots=True)
class _ScanRead:
    """What a scan depended on: the keys of `map_name` from `low` to `high` (inclusive; None = to the
    end of `prefix`) that start with `prefix`, and the `(key, version)` pairs it found there."""

    map_name: str
    prefix: bytes
    low: bytes
    high: bytes | None
    found: list[tuple[bytes, int]]


class Transaction:
    """Created by `KvStore.begin()`; use it from one place, then `commit()` it once (or drop it)."""

    __slots__ = (
        "_finished",
        "_generation",
        "_maps",
        "_reads",
        "_scans",
        "_snapshot_version",
        "_store",
        "_writes",
    )

    def __init__(
        self, store: KvStore, maps: Mapping[str, VersionedMap], snapshot_version: int, generation: int
    ) -> None:
        self._store = store
        self._maps = maps
        self._snapshot_version = snapshot_version
        self._generation = generation
        # map name -> key -> new value (None = removal), in write order
        self._writes: dict[str, dict[bytes, bytes | None]] = {}
        # map name -> key -> version read (0 = absent)
        self._reads: dict[str, dict[bytes, int]] = {}
        self._scans: list[_ScanRead] = []
        self._finished = False

    @property
    def snapshot_version(self) -> int:
        return self._snapshot_version

    @property
    def generation(self) -> int:
        """The store's rollback generation at `begin`; a rollback since then invalidates the snapshot."""
        return self._generation

    # -- reads -------------------------------------------------------------------------------------

    def get(self, map_name: str, key: bytes) -> bytes | None:
        """The key's value (None when absent), as of the snapshot and this transaction's own writes."""
        self._check_open()
        own = self._writes.get(map_name)
        if own is not None and key in own:
            return own[key]
        return self._read(map_name, key)[1]

    def has(self, map_name: str, key: bytes) -> bool:
        return self.get(map_name, key) is not None

    def get_version(self, map_name: str, key: bytes) -> int | None:
        """The version that wrote the key's value in the snapshot, None when absent. Own writes have
        no version yet and are not looked at (CCF: `get_version_of_previous_write`)."""
        version, _ = self._read(map_name, key)
        return version or None

    def scan(
        self, map_name: str, prefix: bytes = b"", start: bytes | None = None, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        """`(key, value)` pairs whose key starts with `prefix`, from `start` (inclusive) on, in key
        order, at most `limit` of them; own writes and removals included."""
        self._check_open()
        if limit is not None and limit < 0:
            raise ValueError(f"scan limit must not be negative: {limit}")
        if limit == 0:
            return []
        low = prefix if start is None or start < prefix else start
        own = self._writes.get(map_name, {})
        own_keys = sorted(key for key in own if key >= low and key.startswith(prefix))
        versioned_map = self._maps.get(map_name)
        snapshot: Iterator[tuple[bytes, int, bytes]] = (
            iter(())
            if versioned_map is None
            else versioned_map.visible_range(low, prefix, self._snapshot_version)
        )
        found: list[tuple[bytes, int]] = []
        result: list[tuple[bytes, bytes]] = []
        own_index = 0
        try:
            stored = next(snapshot, None)
            while limit is None or len(result) < limit:
                if stored is not None and (own_index == len(own_keys) or stored[0] < own_keys[own_index]):
                    found.append((stored[0], stored[1]))
                    result.append((stored[0], stored[2]))
                    stored = next(snapshot, None)
                elif own_index < len(own_keys):
                    key = own_keys[own_index]
                    own_index += 1
                    if stored is not None and stored[0] == key:
                        found.append((stored[0], stored[1]))
                        stored = next(snapshot, None)
                    value = own[key]
                    if value is not None:
                        result.append((key, value))
                else:
                    break
        except StaleSnapshot as error:
            raise Conflict(f"scan of {map_name!r}: {error}") from error
        # A scan cut short by its limit depended only on keys up to the last one it returned.
        high = result[-1][0] if limit is not None and len(result) >= limit else None
        self._scans.append(_ScanRead(map_name, prefix, low, high, found))
        return result

    def _read(self, map_name: str, key: bytes) -> tuple[int, bytes | None]:
        self._check_open()
        versioned_map = self._maps.get(map_name)
        entry = None
        if versioned_map is not None:
            try:
                entry = versioned_map.entry_at(key, self._snapshot_version)
            except StaleSnapshot as error:
                raise Conflict(f"read of {key!r} in {map_name!r}: {error}") from error
        version, value = (0, None) if entry is None or entry[1] is None else entry
        self._reads.setdefault(map_name, {}).setdefault(key, version)
        return version, value

    # -- writes ------------------------------------------------------------------------------------

    def put(self, map_name: str, key: bytes, value: bytes) -> None:
        self._check_open()
        if type(key) is not bytes or type(value) is not bytes:
            raise TypeError(f"keys and values are bytes, not {type(key).__name__}/{type(value).__name__}")
        writes = self._writes.get(map_name)
        if writes is None:
            writes = self._writes[map_name] = {}
        writes[key] = value

    def remove(self, map_name: str, key: bytes) -> None:
        """Remove the key (a blind write: it does not read whether the key exists)."""
        self._check_open()
        if type(key) is not bytes:
            raise TypeError(f"keys are bytes, not {type(key).__name__}")
        self._writes.setdefault(map_name, {})[key] = None

    # -- commit ------------------------------------------------------------------------------------

    def commit(self) -> TxResult:
        """Validate the read set and, if it is still current, write at the store's next version.
        Raises Conflict (and writes nothing) otherwise. A transaction commits at most once."""
        self._check_open()
        self._finished = True
        return self._store.commit_transaction(self)

    def has_writes(self) -> bool:
        return bool(self._writes)

    def check_reads_current(self, maps: Mapping[str, VersionedMap], current_version: int) -> None:
        """OCC validation: raise Conflict unless every read and scanned range is as it is now."""
        for map_name, reads in self._reads.items():
            versioned_map = maps.get(map_name)
            for key, version in reads.items():
                now = 0 if versioned_map is None else versioned_map.visible_version(key)
                if now != version:
                    raise Conflict(f"{key!r} in {map_name!r} changed: read at {version}, now {now}")
        for scan in self._scans:
            versioned_map = maps.get(scan.map_name)
            now_found: list[tuple[bytes, int]] = []
            if versioned_map is not None:
                for key, version, _ in versioned_map.visible_range(scan.low, scan.prefix, current_version):
                    if scan.high is not None and key > scan.high:
                        break
                    now_found.append((key, version))
            if now_found != scan.found:
                raise Conflict(f"range scanned in {scan.map_name!r} from {scan.low!r} changed")

    def write_set(self) -> WriteSet:
        """The writes, canonically ordered; `read_version` is the snapshot for maps this transaction
        read, -1 for maps it only wrote (CCF)."""
        scanned = {scan.map_name for scan in self._scans}
        maps: dict[str, MapWrites] = {}
        for map_name in sorted(self._writes):
            changes = self._writes[map_name]
            writes: dict[bytes, bytes] = {}
            removals: list[bytes] = []
            for key in sorted(changes):
                value = changes[key]
                if value is None:
                    removals.append(key)
                else:
                    writes[key] = value
            read = map_name in self._reads or map_name in scanned
            maps[map_name] = MapWrites(writes, frozenset(removals), self._snapshot_version if read else -1)
        return WriteSet(maps)

    def _check_open(self) -> None:
        if self._finished:
            raise TransactionFinished("transaction already committed or abandoned")
