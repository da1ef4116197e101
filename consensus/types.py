"""Raft's vocabulary: ids, log entries, the durable hard state and configurations (Raft figure 2).

CCF's variant adds one bit to each entry: `committable`. CCF's signature transactions are the
committable entries; the commit index only ever lands on one of them (DESIGN.md section 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NewType

from consensus.errors import InvalidConfChangeError

NodeId = NewType("NodeId", str)
Term = NewType("Term", int)
Index = NewType("Index", int)


class ChangeKind(Enum):
    """Single-server membership changes (Raft dissertation 4.1), learners first."""

    ADD_LEARNER = "add_learner"
    PROMOTE = "promote"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class ConfChange:
    """One membership change, carried by a log entry."""

    kind: ChangeKind
    node: NodeId


@dataclass(frozen=True, slots=True)
class Configuration:
    """Who votes and who only replicates. Learners never vote nor count for a quorum."""

    voters: frozenset[NodeId]
    learners: frozenset[NodeId] = frozenset()

    @property
    def members(self) -> frozenset[NodeId]:
        return self.voters | self.learners

    def apply(self, change: ConfChange) -> Configuration:
        """The configuration after `change`; raises InvalidConfChangeError when it does not apply."""
        node = change.node
        match change.kind:
            case ChangeKind.ADD_LEARNER:
                if node in self.members:
                    raise InvalidConfChangeError(f"{node} is already a member")
                return Configuration(self.voters, self.learners | {node})
            case ChangeKind.PROMOTE:
                if node not in self.learners:
                    raise InvalidConfChangeError(f"{node} is not a learner")
                return Configuration(self.voters | {node}, self.learners - {node})
            case ChangeKind.REMOVE:
                if node not in self.members:
                    raise InvalidConfChangeError(f"{node} is not a member")
                if self.voters == {node}:
                    raise InvalidConfChangeError(f"removing {node} would leave no voter")
                return Configuration(self.voters - {node}, self.learners - {node})


@dataclass(frozen=True, slots=True)
class Entry:
    """A log entry. `change` is set on membership-change entries, `data` is the application's."""

    term: Term
    index: Index
    data: bytes = b""
    committable: bool = False
    change: ConfChange | None = None


@dataclass(frozen=True, slots=True)
class HardState:
    """What must be durable before this node answers anyone (Raft figure 2: currentTerm, votedFor)."""

    term: Term
    vote: NodeId | None
    commit: Index


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The application's state up to `index` (inclusive), and the configuration in force there."""

    index: Index
    term: Term
    configuration: Configuration
    data: bytes = b""
