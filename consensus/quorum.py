"""Majority arithmetic over a set of voters (Raft 5.2, 5.3; etcd quorum/majority.go)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from consensus.types import Index, NodeId


class VoteResult(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def committed_index(voters: frozenset[NodeId], match: Mapping[NodeId, Index]) -> Index:
    """The largest index that a majority of `voters` hold (a voter missing from `match` holds 0)."""
    acked = sorted((match.get(voter, Index(0)) for voter in voters), reverse=True)
    return acked[len(voters) // 2]


def vote_result(voters: frozenset[NodeId], votes: Mapping[NodeId, bool]) -> VoteResult:
    """WON with a majority of grants, LOST once a majority can no longer be reached."""
    quorum = len(voters) // 2 + 1
    granted = sum(1 for voter in voters if votes.get(voter) is True)
    rejected = sum(1 for voter in voters if votes.get(voter) is False)
    if granted >= quorum:
        return VoteResult.WON
    if len(voters) - rejected < quorum:
        return VoteResult.LOST
    return VoteResult.PENDING


def has_quorum(voters: frozenset[NodeId], nodes: frozenset[NodeId] | set[NodeId]) -> bool:
    """True when `nodes` include a majority of `voters`."""
    return len(voters & nodes) >= len(voters) // 2 + 1
