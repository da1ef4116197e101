"""One KV map with a short version history per key: what snapshot reads, rollback and compaction need.

Each key holds its entries `(version, value)` in ascending version order; a value of None is a tombstone
(the key was removed at that version). Uncommitted entries stay until they are committed (then older
entries are compacted away) or rolled back (then they are popped). A key that enters the map starts
with the entry `(0, None)`, "absent before this", so a snapshot older than its first write reads it as
absent. When compaction drops older entries that knowledge goes with them, and a snapshot read below the
oldest kept entry raises `StaleSnapshot` instead of guessing. (A committed tombstone is dropped with its
key, so a snapshot older than the removal reads the key as absent: the current state. Transactions are
validated against the current state at commit, so such a read is either still true then or conflicts.)

Keys are kept in a sorted list (maintained with `bisect` on insert and removal) for range scans.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

# (version, value); value None is a tombstone. Version 0 is "before any write".
Entry = tuple[int, bytes | None]
_ABSENT_SINCE_GENESIS: Entry = (0, None)


class StaleSnapshot(Exception):
    """A snapshot read asked for a version whose history was compacted away (the key changed since)."""


class VersionedMap:
    """The history of one map's keys, and its keys in sorted order."""

    __slots__ = ("_history", "_sorted_keys")

    def __init__(self) -> None:
        self._history: dict[bytes, list[Entry]] = {}
        self._sorted_keys: list[bytes] = []

    def __len__(self) -> int:
        """The number of keys with any history (tombstones included)."""
        return len(self._history)

    # -- reads -------------------------------------------------------------------------------------

    def entry_at(self, key: bytes, version: int) -> Entry | None:
        """The newest entry at or below `version` (None when the key has no history at all)."""
        history = self._history.get(key)
        if history is None:
            return None
        newest = history[-1]
        if newest[0] <= version:
            return newest
        for index in range(len(history) - 2, -1, -1):
            entry = history[index]
            if entry[0] <= version:
                return entry
        raise StaleSnapshot(f"history of key {key!r} below version {history[0][0]} was compacted")

    def visible_version(self, key: bytes) -> int:
        """The version of the key's current value; 0 when it is absent (never written or removed)."""
        history = self._history.get(key)
        if history is None:
            return 0
        version, value = history[-1]
        return 0 if value is None else version

    def visible_range(self, low: bytes, prefix: bytes, version: int) -> Iterator[tuple[bytes, int, bytes]]:
        """`(key, version, value)` of the keys present at `version`, from `low` on, while they start
        with `prefix`, in key order. Lazy: a scan that stops early reads (and records) no further."""
        keys = self._sorted_keys
        index = bisect_left(keys, low)
        while index < len(keys):
            key = keys[index]
            if not key.startswith(prefix):
                return
            entry = self.entry_at(key, version)
            if entry is not None and entry[1] is not None:
                yield key, entry[0], entry[1]
            index += 1

    # -- writes ------------------------------------------------------------------------------------

    def append(self, key: bytes, version: int, value: bytes | None) -> None:
        """Record a write (or, with None, a removal) at `version`, newer than every entry of the key."""
        history = self._history.get(key)
        if history is None:
            self._history[key] = [_ABSENT_SINCE_GENESIS, (version, value)]
            insort(self._sorted_keys, key)
        else:
            history.append((version, value))

    def restore(self, key: bytes, version: int, value: bytes) -> None:
        """Install a committed value with no older history (restore from a snapshot or from disk)."""
        if key not in self._history:
            insort(self._sorted_keys, key)
        self._history[key] = [(version, value)]

    def undo(self, key: bytes, version: int, commit_version: int) -> None:
        """Pop the key's entry written at `version` (its newest): rollback of an uncommitted version."""
        history = self._history[key]
        popped_version, _ = history.pop()
        if popped_version != version:
            raise AssertionError(f"rollback of {key!r}: newest entry is {popped_version}, not {version}")
        self._drop_if_gone(key, history, commit_version)

    def compact(self, key: bytes, commit_version: int) -> None:
        """Drop entries older than the newest committed one; drop the key once it is a committed
        tombstone (CCF: compaction forgets what no rollback or open snapshot at commit can need)."""
        history = self._history.get(key)
        if history is None:
            return
        keep_from = 0
        for index in range(len(history) - 1, -1, -1):
            if history[index][0] <= commit_version:
                keep_from = index
                break
        if keep_from:
            del history[:keep_from]
        self._drop_if_gone(key, history, commit_version)

    def _drop_if_gone(self, key: bytes, history: list[Entry], commit_version: int) -> None:
        if not history or (len(history) == 1 and history[0][1] is None and history[0][0] <= commit_version):
            del self._history[key]
            index = bisect_left(self._sorted_keys, key)
            del self._sorted_keys[index]
