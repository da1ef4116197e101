"""What leaves the store once Raft has committed it: the whole committed state (for snapshots and
restart) and the committed delta of a version range (for the host's LMDB copy of the state).

The snapshot encoding is canonical: msgpack of `[format, version, [[map, [[key, version, value], ...]],
...]]` with maps and keys in sorted order, so equal states encode to equal bytes (CCF: a snapshot is
hashed and signed, so it needs one encoding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import msgpack

SNAPSHOT_FORMAT = 1


class VersionedValue(NamedTuple):
    version: int
    value: bytes


class KeyChange(NamedTuple):
    """A key's newest committed write in a delta. `position` is the write's index in its version's
    write set in canonical order (maps by name, then keys), so `(version, position)` names the write
    uniquely and forever; `value` None is a removal."""

    version: int
    position: int
    value: bytes | None


@dataclass(frozen=True, slots=True)
class CommittedState:
    """Every present key of every map at `version` (a committed version), with the version that wrote it."""

    version: int = 0
    maps: Mapping[str, Mapping[bytes, VersionedValue]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommittedDelta:
    """What became committed when the commit version moved from `from_version` to `to_version`:
    for each key written in between, its newest write."""

    from_version: int
    to_version: int
    changes: Mapping[str, Mapping[bytes, KeyChange]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.changes


class SnapshotFormatError(ValueError):
    """Bytes that are not a snapshot in our format (truncated, wrong types, unsorted, unknown format)."""


def encode_snapshot(state: CommittedState) -> bytes:
    """Canonical bytes of a committed state (maps and keys sorted; empty maps left out)."""
    maps = [
        [name, [[key, entries[key].version, entries[key].value] for key in sorted(entries)]]
        for name, entries in sorted(state.maps.items())
        if entries
    ]
    return cast(bytes, msgpack.packb([SNAPSHOT_FORMAT, state.version, maps], use_bin_type=True))


def decode_snapshot(data: bytes) -> CommittedState:
    """The committed state in `data`; raises SnapshotFormatError unless it is exactly what
    `encode_snapshot` writes (so a snapshot has one encoding)."""
    try:
        decoded = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise SnapshotFormatError(f"snapshot is not msgpack: {error}") from error
    if not (isinstance(decoded, list) and len(decoded) == 3):
        raise SnapshotFormatError("snapshot is not [format, version, maps]")
    format_version, version, raw_maps = decoded
    if format_version != SNAPSHOT_FORMAT:
        raise SnapshotFormatError(f"unknown snapshot format {format_version!r}")
    if not (_is_int(version) and version >= 0 and isinstance(raw_maps, list)):
        raise SnapshotFormatError("snapshot version or map list is malformed")
    maps: dict[str, dict[bytes, VersionedValue]] = {}
    previous_name: str | None = None
    for raw_map in raw_maps:
        if not (isinstance(raw_map, list) and len(raw_map) == 2 and isinstance(raw_map[0], str)):
            raise SnapshotFormatError("snapshot map is not [name, entries]")
        name, raw_entries = raw_map
        if previous_name is not None and name <= previous_name:
            raise SnapshotFormatError(f"snapshot maps are not in sorted order at {name!r}")
        previous_name = name
        maps[name] = _decode_entries(name, raw_entries, version)
    state = CommittedState(version, maps)
    if encode_snapshot(state) != data:
        raise SnapshotFormatError("snapshot is not in canonical encoding")
    return state


def _decode_entries(name: str, raw_entries: object, snapshot_version: int) -> dict[bytes, VersionedValue]:
    if not (isinstance(raw_entries, list) and raw_entries):
        raise SnapshotFormatError(f"snapshot map {name!r} has no entry list")
    entries: dict[bytes, VersionedValue] = {}
    previous_key: bytes | None = None
    for raw_entry in raw_entries:
        if not (isinstance(raw_entry, list) and len(raw_entry) == 3):
            raise SnapshotFormatError(f"snapshot entry in {name!r} is not [key, version, value]")
        key, version, value = raw_entry
        if not (isinstance(key, bytes) and isinstance(value, bytes) and _is_int(version)):
            raise SnapshotFormatError(f"snapshot entry in {name!r} has wrong types")
        if not 1 <= version <= snapshot_version:
            raise SnapshotFormatError(f"snapshot entry {key!r} in {name!r} has version {version}")
        if previous_key is not None and key <= previous_key:
            raise SnapshotFormatError(f"snapshot keys in {name!r} are not in sorted order at {key!r}")
        previous_key = key
        entries[key] = VersionedValue(version, value)
    return entries


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
