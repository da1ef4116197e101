"""A proposal's writes, held back until every one of its actions has applied.

CCF applies an accepted proposal's actions in the transaction of the deciding ballot; if one throws, the
proposal is Failed and none of its actions' writes remain. Our `Transaction` has no savepoints, so the
actions write here first (reading their own writes), and only a fully applied proposal is flushed.
"""

from __future__ import annotations

from enclave.governance.tables import KvView


class StagedWrites:
    """A `KvView` over a transaction that buffers writes until `flush`."""

    __slots__ = ("_changes", "_tx")

    def __init__(self, tx: KvView) -> None:
        self._tx = tx
        # map name -> key -> new value (None = removal)
        self._changes: dict[str, dict[bytes, bytes | None]] = {}

    def get(self, map_name: str, key: bytes) -> bytes | None:
        changes = self._changes.get(map_name, {})
        return changes[key] if key in changes else self._tx.get(map_name, key)

    def scan(self, map_name: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        merged: dict[bytes, bytes | None] = dict(self._tx.scan(map_name, prefix))
        merged.update(
            (key, value) for key, value in self._changes.get(map_name, {}).items() if key.startswith(prefix)
        )
        return sorted((key, value) for key, value in merged.items() if value is not None)

    def put(self, map_name: str, key: bytes, value: bytes) -> None:
        self._changes.setdefault(map_name, {})[key] = value

    def remove(self, map_name: str, key: bytes) -> None:
        self._changes.setdefault(map_name, {})[key] = None

    def flush(self) -> None:
        """Write everything staged to the underlying transaction."""
        for map_name, changes in self._changes.items():
            for key, value in changes.items():
                if value is None:
                    self._tx.remove(map_name, key)
                else:
                    self._tx.put(map_name, key, value)
        self._changes.clear()
