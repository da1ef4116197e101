"""The simulator's invariant checks are not vacuous: a Raft with a broken commit rule is caught."""

from __future__ import annotations

import pytest

from consensus.quorum import committed_index
from consensus.raft import Raft
from consensus.types import NodeId
from tests.consensus.simulation.simulator import SafetyViolation, simulation_for_seed


class CommitsIgnoringCommittability(Raft):
    """Broken on purpose: commits whatever a majority holds, committable or not."""

    def _maybe_commit(self) -> bool:
        match = {node: pr.match for node, pr in self.progress.items()}
        index = committed_index(self.log.configuration().voters, match)
        if index <= self.log.committed or self.log.term(index) != self.term:
            return False
        self.log.committed = index
        return True


def violations(raft_class: type[Raft], seeds: range) -> list[int]:
    caught = []
    for seed in seeds:
        try:
            simulation_for_seed(seed, raft_class).run()
        except SafetyViolation:
            caught.append(seed)
    return caught


def test_a_commit_index_on_an_uncommittable_entry_is_reported() -> None:
    assert violations(CommitsIgnoringCommittability, range(5)) != []


def test_the_correct_core_passes_the_same_seeds() -> None:
    assert violations(Raft, range(5)) == []


class ReadsWithoutAHeartbeatRound(Raft):
    """Broken on purpose: answers reads at once, so a deposed leader serves stale reads."""

    def _leader_read_index(self, requester: NodeId, context: bytes) -> None:
        self._answer_read(requester, self.log.committed, context)


@pytest.mark.slow
def test_a_stale_read_from_a_deposed_leader_is_reported() -> None:
    assert violations(ReadsWithoutAHeartbeatRound, range(60)) != []
