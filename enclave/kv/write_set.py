"""What one committed transaction changed: the contract between the KV store and the ledger.

The ledger serialises a write set into an entry's public and private domains by map name (CCF: a map
whose name starts with `public:` is plaintext, every other map is encrypted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PUBLIC_PREFIX = "public:"


def is_public_map(map_name: str) -> bool:
    """CCF's rule: confidentiality is decided by the map's name alone."""
    return map_name.startswith(PUBLIC_PREFIX)


@dataclass(frozen=True, slots=True)
class MapWrites:
    """The changes to one map: keys written (with their new values) and keys removed."""

    writes: Mapping[bytes, bytes] = field(default_factory=dict)
    removals: frozenset[bytes] = frozenset()
    # The version of the map the transaction read (CCF's "read version"); -1 when it read nothing.
    read_version: int = -1

    def __post_init__(self) -> None:
        overlap = self.removals.intersection(self.writes)
        if overlap:
            raise ValueError(f"keys both written and removed: {sorted(overlap)!r}")


@dataclass(frozen=True, slots=True)
class WriteSet:
    """Changes by map name. Maps are serialised in sorted name order, so the encoding is canonical."""

    maps: Mapping[str, MapWrites] = field(default_factory=dict)

    def public(self) -> dict[str, MapWrites]:
        return {name: self.maps[name] for name in sorted(self.maps) if is_public_map(name)}

    def private(self) -> dict[str, MapWrites]:
        return {name: self.maps[name] for name in sorted(self.maps) if not is_public_map(name)}

    def is_empty(self) -> bool:
        return all(not m.writes and not m.removals for m in self.maps.values())
