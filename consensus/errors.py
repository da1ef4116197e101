"""The errors of the consensus core.

Two families, as in h11: `RaftUsageError` means the caller misused the API (our bug, or the
application's), the rest mean a request cannot be served now or is invalid; none of them changes any
state. Messages from peers are never answered with an exception: a stale or odd message is dropped,
as Raft prescribes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consensus.types import NodeId


class RaftError(Exception):
    """Base class of every error raised by `consensus`."""


class RaftUsageError(RaftError):
    """The API was used out of order (e.g. `step` between `ready` and `advance`)."""


class InvalidConfigError(RaftError):
    """A `RaftConfig` whose timeouts or limits cannot work."""


class MisaddressedMessageError(RaftError):
    """A message for another node was stepped into this one."""


class NotLeaderError(RaftError):
    """Only the leader can do this; `leader` is who this node believes leads (None: unknown)."""

    def __init__(self, leader: NodeId | None) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class ProposalDroppedError(RaftError):
    """The leader refuses proposals while it hands leadership over (etcd: ErrProposalDropped)."""


class InvalidConfChangeError(RaftError):
    """A membership change that makes no sense for the current configuration."""


class ConfChangeRefusedError(RaftError):
    """A valid membership change the leader cannot start yet; retry later."""


class InvalidTransferError(RaftError):
    """A leader transfer to a node that cannot lead."""


class StorageError(RaftError):
    """Base class of the errors a `Storage` raises."""


class CompactedError(StorageError):
    """The requested index is covered by the snapshot: its entry was compacted away."""


class UnavailableError(StorageError):
    """The requested index is past the last entry."""


class InvalidSnapshotError(StorageError):
    """A snapshot or compaction request that would lose or contradict stored entries."""
