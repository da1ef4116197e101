"""A node's snapshot files: CCF's names, written atomically, found by seqno or as the newest."""

from __future__ import annotations

from pathlib import Path

from node.snapshot_files import SnapshotFiles


def test_snapshots_are_found_by_seqno_and_the_newest_wins(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path / "snapshots")
    assert files.newest() is None and files.at(10) is None
    files.store(10, 13, b"first")
    files.store(25, 27, b"second")
    files.store(10, 15, b"first, proven again")
    (tmp_path / "snapshots" / "snapshot_99_100.committed.tmp").write_bytes(b"a torn write")
    (tmp_path / "snapshots" / "notes.txt").write_bytes(b"not a snapshot")

    assert sorted(p.name for p in (tmp_path / "snapshots").glob("*.committed")) == [
        "snapshot_10_13.committed",
        "snapshot_10_15.committed",
        "snapshot_25_27.committed",
    ]
    assert files.at(10) == (10, b"first, proven again")
    assert files.newest() == (25, b"second")
    assert files.at(11) is None
    assert (tmp_path / "snapshots" / "snapshot_25_27.committed").stat().st_mode & 0o777 == 0o644
