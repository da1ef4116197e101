"""Which Raft membership change the primary proposes next (DESIGN.md sections 4.3 and 5), and whether a
new one may start.

A Trusted node that is not a member becomes a learner; a learner whose log has caught up with the commit
index becomes a voter; a Retired node that is still a member is removed (CCF: Raft's configuration follows
the nodes table; a node is first recorded Retired, which it sees committed while still replicating, then
leaves the configuration, after which nobody tells it anything: so a live one is removed only once it can
learn its retirement committed). One change at a time, and only once this leader committed an entry of
its term and the previous change is committed: consensus/raft.py refuses anything else, so asking first
avoids writing an entry that would be rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable

from consensus import ChangeKind, ConfChange, Raft
from consensus import NodeId as RaftNodeId
from enclave.ledger.tables import NodeStatus
from enclave.runtime.service_maps import NodeRecord


def next_membership_change(raft: Raft, committed_nodes: Iterable[NodeRecord]) -> ConfChange | None:
    log = raft.log
    if log.last_configuration_index() > raft.commit_index or log.term(raft.commit_index) != raft.term:
        return None
    configuration = raft.configuration
    for record in committed_nodes:
        node = RaftNodeId(record.node_id)
        if record.status is NodeStatus.RETIRED:
            if node in configuration.members and _can_learn_its_retirement(raft, node):
                return ConfChange(ChangeKind.REMOVE, node)
            continue  # a retired learner is never promoted
        if record.status is NodeStatus.TRUSTED and node not in configuration.members:
            return ConfChange(ChangeKind.ADD_LEARNER, node)
        if node in configuration.learners and raft.progress[node].match >= raft.commit_index:
            return ConfChange(ChangeKind.PROMOTE, node)
    return None


def removed_nodes(raft: Raft, committed_nodes: Iterable[NodeRecord]) -> frozenset[str]:
    """Nodes whose removal is committed: Retired, and outside a committed configuration. Nobody sends
    to them any more."""
    if raft.log.last_configuration_index() > raft.commit_index:
        return frozenset()
    members = raft.configuration.members
    return frozenset(
        record.node_id
        for record in committed_nodes
        if record.status is NodeStatus.RETIRED and RaftNodeId(record.node_id) not in members
    )


def _can_learn_its_retirement(raft: Raft, node: RaftNodeId) -> bool:
    """Remove a retired node only once it can learn that its retirement committed: it holds every
    committed entry (so the leader's next message carries a commit past its retirement), or it has
    not answered for an election timeout (down or cut off: waiting would block the removal)."""
    progress = raft.progress.get(node)
    if node == raft.id or progress is None:
        return True
    return progress.match >= raft.commit_index or not progress.recent_active
