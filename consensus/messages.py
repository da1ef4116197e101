"""The messages Raft nodes exchange (Raft figure 2, plus etcd's PreVote, heartbeat and TimeoutNow).

Every message names its sender (`src`), its addressee (`dst`) and the sender's term; the receiver
handles terms first (Raft 5.1) and then dispatches on the type with `match`.
"""

from __future__ import annotations

from dataclasses import dataclass

from consensus.types import Entry, Index, NodeId, Snapshot, Term


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """RequestVote (Raft 5.2), or PreVote (dissertation 9.6) when `pre_vote`: then `term` is the
    term the sender would campaign in, and nobody changes term or vote for it.

    CCF: the candidate offers its last *committable* entry, not its last entry. `transfer` marks a
    campaign started by TimeoutNow, which voters honour even while they hear from a leader.
    """

    src: NodeId
    dst: NodeId
    term: Term
    pre_vote: bool
    last_committable_index: Index
    last_committable_term: Term
    transfer: bool = False


@dataclass(frozen=True, slots=True)
class VoteResponse:
    src: NodeId
    dst: NodeId
    term: Term
    pre_vote: bool
    granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """AppendEntries (Raft 5.3): `entries` follow the entry at `prev_index` of term `prev_term`."""

    src: NodeId
    dst: NodeId
    term: Term
    prev_index: Index
    prev_term: Term
    entries: tuple[Entry, ...]
    commit: Index


@dataclass(frozen=True, slots=True)
class AppendResponse:
    """The answer to AppendEntries and InstallSnapshot.

    Accepted: `index` is the last index the follower holds durably and matching. Rejected: `index` is
    the rejected `prev_index`, and (`hint_index`, `hint_term`) is the follower's last entry at or
    before it with a term at or below the leader's `prev_term` (etcd: findConflictByTerm), so the
    leader skips a whole diverged term per round trip (Raft 5.3, "fast backtracking").
    """

    src: NodeId
    dst: NodeId
    term: Term
    index: Index
    reject: bool
    hint_index: Index
    hint_term: Term


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Leader liveness. `commit` is at most what the follower is known to hold; `read_round` is the
    latest read-index round the leader asks the follower to confirm (0: none)."""

    src: NodeId
    dst: NodeId
    term: Term
    commit: Index
    read_round: int = 0


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    src: NodeId
    dst: NodeId
    term: Term
    read_round: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """Raft 7: the leader ships the application's snapshot to a follower it has compacted away."""

    src: NodeId
    dst: NodeId
    term: Term
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leader transfer (dissertation 3.10): campaign at once, the leader is stepping aside."""

    src: NodeId
    dst: NodeId
    term: Term


@dataclass(frozen=True, slots=True)
class ReadIndexRequest:
    """A follower forwards a read-index request to its leader (dissertation 6.4)."""

    src: NodeId
    dst: NodeId
    term: Term
    context: bytes


@dataclass(frozen=True, slots=True)
class ReadIndexResponse:
    """The leader's answer to a forwarded read: serve `context` once applied up to `index`."""

    src: NodeId
    dst: NodeId
    term: Term
    index: Index
    context: bytes


Message = (
    VoteRequest
    | VoteResponse
    | AppendEntries
    | AppendResponse
    | Heartbeat
    | HeartbeatResponse
    | InstallSnapshot
    | TimeoutNow
    | ReadIndexRequest
    | ReadIndexResponse
)
