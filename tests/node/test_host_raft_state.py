"""The Raft state file: what was synced is what a restart reads; a damaged file is refused, not guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.runtime.messages import RaftHardState
from node.raft_state_file import RaftStateFile, RaftStateFileError


def test_a_new_node_has_no_raft_state(tmp_path: Path) -> None:
    assert RaftStateFile(tmp_path / "raft_state.json").load() is None


def test_only_a_synced_state_reaches_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "raft_state.json"
    state_file = RaftStateFile(path)
    state_file.stage(RaftHardState(term=3, vote="ab" * 32, commit=17))
    assert RaftStateFile(path).load() is None  # staged, not yet flushed

    state_file.sync()
    state_file.stage(RaftHardState(term=4, vote=None, commit=18))

    assert RaftStateFile(path).load() == RaftHardState(term=3, vote="ab" * 32, commit=17)
    state_file.sync()
    assert RaftStateFile(path).load() == RaftHardState(term=4, vote=None, commit=18)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raft_state.json"]  # no temporary file left


@pytest.mark.parametrize(
    "damaged",
    [
        "",
        "{",
        "[]",
        '{"term": 1, "vote": null}',
        '{"term": "1", "vote": null, "commit": 0}',
        '{"term": 1, "vote": 7, "commit": 0}',
    ],
)
def test_a_damaged_state_file_is_refused(tmp_path: Path, damaged: str) -> None:
    path = tmp_path / "raft_state.json"
    path.write_text(damaged)
    with pytest.raises(RaftStateFileError, match=r"raft_state\.json"):
        RaftStateFile(path).load()
