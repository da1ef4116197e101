"""Which Raft membership change the primary proposes next (DESIGN.md sections 4.3 and 5).

A Trusted node that is not a member becomes a learner; a learner whose log has caught up with the commit
index becomes a voter. One change at a time, and only once this leader committed an entry of its term and
the previous change is committed: consensus/raft.py refuses anything else, so asking first avoids writing
an entry that would be rolled back.
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
        if record.status is NodeStatus.TRUSTED and node not in configuration.members:
            return ConfChange(ChangeKind.ADD_LEARNER, node)
        if node in configuration.learners and raft.progress[node].match >= raft.commit_index:
            return ConfChange(ChangeKind.PROMOTE, node)
    return None
