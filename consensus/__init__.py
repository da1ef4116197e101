"""Raft as a deterministic state machine with CCF's committable entries (DESIGN.md sections 3 and 5).

The application drives a `Raft` with `step`, `tick` and the local requests, and handles each
`Ready` (persist, send, apply) before calling `advance`; see `consensus.raft` and `consensus.ready`.
"""

from consensus.errors import (
    CompactedError,
    ConfChangeRefusedError,
    InvalidConfChangeError,
    InvalidConfigError,
    InvalidSnapshotError,
    InvalidTransferError,
    MisaddressedMessageError,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
    RaftUsageError,
    StorageError,
    UnavailableError,
)
from consensus.messages import Message
from consensus.raft import Raft, RaftConfig, Role
from consensus.ready import ReadState, Ready
from consensus.storage import InMemoryStorage, Storage
from consensus.types import (
    ChangeKind,
    ConfChange,
    Configuration,
    Entry,
    HardState,
    Index,
    NodeId,
    Snapshot,
    Term,
)

__all__ = [
    "ChangeKind",
    "CompactedError",
    "ConfChange",
    "ConfChangeRefusedError",
    "Configuration",
    "Entry",
    "HardState",
    "InMemoryStorage",
    "Index",
    "InvalidConfChangeError",
    "InvalidConfigError",
    "InvalidSnapshotError",
    "InvalidTransferError",
    "Message",
    "MisaddressedMessageError",
    "NodeId",
    "NotLeaderError",
    "ProposalDroppedError",
    "Raft",
    "RaftConfig",
    "RaftError",
    "RaftUsageError",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "Storage",
    "StorageError",
    "Term",
    "UnavailableError",
]
