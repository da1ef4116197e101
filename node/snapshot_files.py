"""A node's committed snapshot files (`snapshot_<seqno>_<evidence seqno>.committed`, CCF's names).

The host keeps them and never looks inside: the enclave checks a snapshot (its receipt, digest and
private state) whenever it starts from one, so a tampered or swapped file is refused there, not here.
"""

from __future__ import annotations

from pathlib import Path

from enclave.snapshots.format import parse_snapshot_file_name, snapshot_file_name
from node.files import PUBLIC_MODE, write_atomically


class SnapshotFiles:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def store(self, seqno: int, evidence_seqno: int, data: bytes) -> Path:
        """Writes the file atomically and durably (a crash leaves the old set or the new one); the
        private state inside is encrypted, so the file is as public as a ledger chunk."""
        path = self._directory / snapshot_file_name(seqno, evidence_seqno)
        write_atomically(path, data, PUBLIC_MODE)
        return path

    def at(self, seqno: int) -> tuple[int, bytes] | None:
        """The snapshot taken at `seqno` (the one with the newest evidence if several)."""
        found = [(evidence, path) for at, evidence, path in self._list() if at == seqno]
        return None if not found else (seqno, max(found)[1].read_bytes())

    def newest(self) -> tuple[int, bytes] | None:
        listed = self._list()
        if not listed:
            return None
        seqno, _, path = max(listed)
        return seqno, path.read_bytes()

    def _list(self) -> list[tuple[int, int, Path]]:
        listed = []
        for path in self._directory.iterdir():
            parsed = parse_snapshot_file_name(path.name)
            if parsed is not None:
                listed.append((*parsed, path))
        return listed
