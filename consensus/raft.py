"""Raft as a deterministic state machine (Raft paper and dissertation; structure of etcd raft.go and
rawnode.go), with CCF's committable entries.

Inputs: `step(message)` for peer messages, `tick()` for time, and the local requests `propose`,
`propose_conf_change`, `campaign`, `transfer_leadership`, `read_index`. None of them does I/O: they
queue messages and log changes, which the application collects with `ready()` and acknowledges with
`advance(ready)` (the persistence contract is described in `consensus.ready`). Between `ready()` and
`advance()` no other input is accepted.

Rules implemented here, beyond Raft's figure 2:
- PreVote (dissertation 9.6) and CheckQuorum (etcd): a leader that heard from no quorum within an
  election timeout steps down, and a node that heard from a leader within the election timeout
  ignores (pre)vote requests unless they come from a leader transfer.
- Replication: batches of entries per AppendEntries (count and byte limits), a window of
  `max_inflight` AppendEntries per follower, probe/replicate/snapshot states, and fast backtracking
  with conflict hints (see `consensus.progress`, `AppendResponse`).
- Commit (Raft 5.4.2): the leader commits by counting replicas only an entry of its own term.
- CCF: the commit index only lands on committable entries; votes compare the last committable entry
  (term, then index); an elected leader drops its uncommittable tail (entries after its last
  committable entry cannot be committed anywhere: a committed committable entry would be in this
  leader's log by the vote rule) and appends a committable entry of its term so commit can advance.
- Membership: single-server changes (dissertation 4.1): add a learner, promote a learner, remove a
  member. **A configuration takes effect when its entry is appended to the log, not when it commits**,
  on every node; a truncated change stops being in force. This is the dissertation's rule. It is
  safe because the leader starts a change only once the previous one is committed: a node whose log
  lacks a committed configuration cannot win an election, so the configurations that can still
  elect a leader are the last committed one and at most one successor, which differ by one voter
  and so have overlapping majorities. The leader also waits until it committed an entry of its own
  term, which rules out Ongaro's 2015 single-server bug (an uncommitted change of an old term
  surviving next to a new one). Taking effect on append (not on commit) means no node ever counts
  votes or acks with a configuration older than its own log's.
  A leader that removes itself keeps leading (without counting itself) until the change commits, then
  hands leadership to the most up-to-date voter with TimeoutNow and steps down (dissertation 4.2.2;
  CCF's retired primary does the same with ProposeRequestVote), so no election timeout is lost.
- Leader transfer (dissertation 3.10), log compaction and snapshot install (Raft 7), read-index
  (dissertation 6.4; deferred until the leader committed an entry of its term; followers forward).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import assert_never, cast

from consensus.errors import (
    CompactedError,
    ConfChangeRefusedError,
    InvalidConfigError,
    InvalidTransferError,
    MisaddressedMessageError,
    NotLeaderError,
    ProposalDroppedError,
    RaftUsageError,
)
from consensus.log import RaftLog
from consensus.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)
from consensus.progress import Progress, ProgressState
from consensus.quorum import VoteResult, committed_index, has_quorum, vote_result
from consensus.read_only import ReadOnly
from consensus.ready import ReadState, Ready
from consensus.storage import Storage
from consensus.types import ChangeKind, ConfChange, Configuration, Entry, HardState, Index, NodeId, Term


class Role(Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class _Campaign(Enum):
    PRE_VOTE = "pre-vote"
    ELECTION = "election"
    TRANSFER = "transfer"


_data_of = attrgetter("data")

# Messages that promise durable state: sent only after the Ready that produced them is persisted.
_AFTER_PERSIST = (AppendResponse, VoteResponse, HeartbeatResponse)


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Tunables, in ticks and counts. The election timeout is drawn from
    [election_tick, 2 * election_tick) each time it is reset (Raft 5.2)."""

    id: NodeId
    election_tick: int = 10  # ticks without a leader before campaigning (randomised up to twice)
    heartbeat_tick: int = 1  # ticks between a leader's heartbeats
    max_append_entries: int = 1024  # entries per AppendEntries (batching)
    max_append_bytes: int = 1 << 20  # payload bytes per AppendEntries (at least one entry is sent)
    max_inflight: int = 64  # unacknowledged AppendEntries per follower (pipelining)
    pre_vote: bool = True
    check_quorum: bool = True

    def validate(self) -> None:
        if self.heartbeat_tick <= 0:
            raise InvalidConfigError("heartbeat_tick must be positive")
        if self.election_tick <= self.heartbeat_tick:
            raise InvalidConfigError("election_tick must exceed heartbeat_tick")
        if self.max_append_entries <= 0 or self.max_append_bytes <= 0 or self.max_inflight <= 0:
            raise InvalidConfigError("message and window limits must be positive")


class Raft:
    def __init__(self, config: RaftConfig, storage: Storage, rng: random.Random) -> None:
        config.validate()
        self.id = config.id
        self.config = config
        self._rng = rng
        self.log = RaftLog(storage)
        hard_state = storage.hard_state()
        self.term = hard_state.term
        self.vote = hard_state.vote
        self.role = Role.FOLLOWER
        self.leader: NodeId | None = None
        self.progress: dict[NodeId, Progress] = {}
        self._votes: dict[NodeId, bool] = {}
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_election_timeout = 0
        self.lead_transferee: NodeId | None = None
        self._pending_conf_index = Index(0)
        self._read_only = ReadOnly()
        self._deferred_reads: list[tuple[NodeId, bytes]] = []
        self._read_states: list[ReadState] = []
        self._messages: list[Message] = []
        self._messages_after_persist: list[Message] = []
        self._persisted_hard_state = hard_state
        self._in_ready = False
        self._reset(self.term)

    # Queries

    @property
    def configuration(self) -> Configuration:
        return self.log.configuration()

    @property
    def commit_index(self) -> Index:
        return self.log.committed

    def is_voter(self) -> bool:
        return self.id in self.log.configuration().voters

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    # Inputs: time

    def tick(self) -> None:
        """One unit of time: heartbeats for a leader, election timeouts for the others."""
        self._check_not_in_ready()
        if self.role is Role.LEADER:
            self._tick_heartbeat()
        else:
            self._tick_election()

    def _tick_election(self) -> None:
        self._election_elapsed += 1
        if self.is_voter() and self._election_elapsed >= self._randomized_election_timeout:
            self._election_elapsed = 0
            self._campaign(_Campaign.PRE_VOTE if self.config.pre_vote else _Campaign.ELECTION)

    def _tick_heartbeat(self) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._election_elapsed >= self.config.election_tick:
            self._election_elapsed = 0
            if self.config.check_quorum and not self._quorum_active():
                # CheckQuorum: a leader cut off from a majority steps down rather than serve alone.
                self._become_follower(self.term, None)
                return
            self.lead_transferee = None  # a transfer that did not finish in an election timeout
        if self._heartbeat_elapsed >= self.config.heartbeat_tick:
            self._heartbeat_elapsed = 0
            self._broadcast_heartbeat()

    def _quorum_active(self) -> bool:
        active = {node for node, pr in self.progress.items() if pr.recent_active or node == self.id}
        for node, pr in self.progress.items():
            if node != self.id:
                pr.recent_active = False
        return has_quorum(self.log.configuration().voters, active)

    # Inputs: local requests

    def campaign(self) -> None:
        """Start an election now (with PreVote when configured), e.g. to bootstrap a cluster fast."""
        self._check_not_in_ready()
        if self.role is not Role.LEADER:
            self._campaign(_Campaign.PRE_VOTE if self.config.pre_vote else _Campaign.ELECTION)

    def propose(self, payloads: Sequence[bytes], *, committable: bool) -> Index:
        """Append `payloads` as entries of the leader's term; when `committable`, the last of them is a
        committable entry (CCF: a batch of transactions ends with its signature transaction).
        Returns the index of the last entry."""
        self._check_not_in_ready()
        self._check_can_propose()
        term = self.term
        first = self.log.last_index() + 1
        indexes = cast("Iterable[Index]", range(first, first + len(payloads)))  # no per-entry Index()
        entries = [Entry(term, index, data) for index, data in zip(indexes, payloads, strict=True)]
        if committable and entries:
            last = entries[-1]
            entries[-1] = Entry(term, last.index, last.data, committable=True)
        self.log.append(entries)
        self._broadcast_append()
        return self.log.last_index()

    def propose_conf_change(self, change: ConfChange, *, data: bytes = b"") -> Index:
        """Append a membership change (committable); returns its index. Raises
        ConfChangeRefusedError while another change is uncommitted, before the leader committed an
        entry of its term, or when promoting a learner that has not caught up with the commit index;
        InvalidConfChangeError when the change does not apply."""
        self._check_not_in_ready()
        self._check_can_propose()
        if not self._committed_in_current_term():
            raise ConfChangeRefusedError("the leader has not committed an entry of its term yet")
        if self._pending_conf_index > self.log.committed:
            raise ConfChangeRefusedError(f"the change at {self._pending_conf_index} is not committed yet")
        self.log.configuration().apply(change)  # raises InvalidConfChangeError
        if change.kind is ChangeKind.PROMOTE and self.progress[change.node].match < self.log.committed:
            raise ConfChangeRefusedError(f"learner {change.node} has not caught up yet")
        index = Index(self.log.last_index() + 1)
        self.log.append([Entry(self.term, index, data, committable=True, change=change)])
        self._pending_conf_index = index
        self._sync_progress()
        self._broadcast_append()
        return index

    def transfer_leadership(self, to: NodeId) -> None:
        """Leader transfer (dissertation 3.10): bring `to` up to date, then tell it to campaign.
        Proposals are refused until the transfer finishes or an election timeout passes."""
        self._check_not_in_ready()
        if self.role is not Role.LEADER:
            raise NotLeaderError(self.leader)
        if to == self.id or to not in self.log.configuration().voters:
            raise InvalidTransferError(f"{to} is not another voter")
        if self.lead_transferee == to:
            return
        self.lead_transferee = to
        self._election_elapsed = 0
        if self.progress[to].match == self.log.last_index():
            self._send(TimeoutNow(self.id, to, self.term))
        else:
            self._maybe_send_append(to, send_if_empty=True)

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read; the answer is a `ReadState` with `context` in a later Ready.
        A follower forwards to its leader. No answer comes if leadership is lost meanwhile: the
        application retries after a timeout."""
        self._check_not_in_ready()
        if self.role is Role.LEADER:
            self._leader_read_index(self.id, context)
        elif self.leader is not None:
            self._send(ReadIndexRequest(self.id, self.leader, self.term, context))
        else:
            raise NotLeaderError(None)

    def _check_can_propose(self) -> None:
        if self.role is not Role.LEADER:
            raise NotLeaderError(self.leader)
        if self.lead_transferee is not None:
            raise ProposalDroppedError(f"leadership is being transferred to {self.lead_transferee}")

    # Inputs: messages from peers

    def step(self, message: Message) -> None:
        """Handle a message from a peer. Stale and out-of-place messages are dropped (Raft 5.1)."""
        self._check_not_in_ready()
        if message.dst != self.id:
            raise MisaddressedMessageError(f"message for {message.dst} stepped into {self.id}")
        if message.term > self.term:
            if isinstance(message, VoteRequest) and not message.transfer and self._in_leader_lease():
                return  # CheckQuorum: we heard from a live leader recently; do not be disrupted
            if isinstance(message, VoteRequest) and message.pre_vote:
                pass  # a pre-vote changes nobody's term
            elif isinstance(message, VoteResponse) and message.pre_vote and message.granted:
                pass  # the grant is for the term we would campaign in
            elif isinstance(message, AppendEntries | Heartbeat | InstallSnapshot):
                self._become_follower(message.term, message.src)
            else:
                self._become_follower(message.term, None)
        elif message.term < self.term:
            if isinstance(message, AppendEntries | Heartbeat) and (
                self.config.check_quorum or self.config.pre_vote
            ):
                # A stale leader (e.g. back from a partition) learns our term and steps down; without
                # this, PreVote could leave it unable to ever hear about the new term.
                self._send(AppendResponse(self.id, message.src, self.term, Index(0), True, Index(0), Term(0)))
            elif isinstance(message, VoteRequest) and message.pre_vote:
                self._send(VoteResponse(self.id, message.src, self.term, True, False))
            return

        match message:
            case VoteRequest():
                self._handle_vote_request(message)
            case VoteResponse():
                self._handle_vote_response(message)
            case AppendEntries():
                self._follow(message.src)
                self._handle_append(message)
            case Heartbeat():
                self._follow(message.src)
                self._handle_heartbeat(message)
            case InstallSnapshot():
                self._follow(message.src)
                self._handle_snapshot(message)
            case AppendResponse():
                if self.role is Role.LEADER:
                    self._handle_append_response(message)
            case HeartbeatResponse():
                if self.role is Role.LEADER:
                    self._handle_heartbeat_response(message)
            case TimeoutNow():
                if self.is_voter():
                    self._campaign(_Campaign.TRANSFER)
            case ReadIndexRequest():
                if self.role is Role.LEADER:
                    self._leader_read_index(message.src, message.context)
            case ReadIndexResponse():
                self._read_states.append(ReadState(message.index, message.context))
            case _:
                assert_never(message)

    def _in_leader_lease(self) -> bool:
        return (
            self.config.check_quorum
            and self.leader is not None
            and self._election_elapsed < self.config.election_tick
        )

    def _follow(self, leader: NodeId) -> None:
        """An AppendEntries, heartbeat or snapshot of our term comes from its one leader (Raft 5.2)."""
        if self.role is not Role.FOLLOWER:
            self._become_follower(self.term, leader)
        self.leader = leader
        self._election_elapsed = 0

    # Roles: the one place where they change

    def _reset(self, term: Term) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.leader = None
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_election_timeout = self.config.election_tick + self._rng.randrange(
            self.config.election_tick
        )
        self.lead_transferee = None
        self._votes = {}
        self._read_only = ReadOnly()
        self._deferred_reads = []
        self.progress = {}

    def _become_follower(self, term: Term, leader: NodeId | None) -> None:
        self._reset(term)
        self.leader = leader
        self.role = Role.FOLLOWER

    def _become_pre_candidate(self) -> None:
        if self.role is Role.LEADER:
            raise RaftUsageError("a leader cannot become a pre-candidate")
        # PreVote: neither the term nor the vote changes until a majority would vote for us.
        self._votes = {}
        self.leader = None
        self.role = Role.PRE_CANDIDATE

    def _become_candidate(self) -> None:
        if self.role is Role.LEADER:
            raise RaftUsageError("a leader cannot become a candidate")
        self._reset(Term(self.term + 1))
        self.vote = self.id
        self.role = Role.CANDIDATE

    def _become_leader(self) -> None:
        if self.role is Role.FOLLOWER:
            raise RaftUsageError("a follower cannot become leader without an election")
        self._reset(self.term)
        self.leader = self.id
        self.role = Role.LEADER
        # CCF: drop the uncommittable tail, then append a committable entry of this term (etcd's
        # empty entry) so the commit index can reach this term (Raft 5.4.2).
        last_committable, _ = self.log.last_committable()
        index = Index(last_committable + 1)
        self.log.append([Entry(self.term, index, b"", committable=True)])
        self._sync_progress()
        for node, pr in self.progress.items():
            if node != self.id:
                pr.next = index
        self.progress[self.id].become_replicate()
        # A change cut off with the tail is no longer pending; no new change is accepted before this
        # term commits an entry (checked in propose_conf_change).
        self._pending_conf_index = self.log.last_configuration_index()

    def _sync_progress(self) -> None:
        """Track exactly the members of the configuration in force (and ourselves)."""
        if self.role is not Role.LEADER:
            return
        members = self.log.configuration().members | {self.id}
        for node in list(self.progress):
            if node not in members:
                del self.progress[node]
        next_index = Index(self.log.last_index() + 1)
        for node in sorted(members):  # a set: sort, so message order is deterministic
            if node not in self.progress:
                pr = Progress(next_index, self.config.max_inflight)
                pr.recent_active = True  # give a new member one election timeout to answer
                self.progress[node] = pr
        self_pr = self.progress[self.id]
        self_pr.match = max(self_pr.match, self.log.last_stable_index())

    # Elections (Raft 5.2, PreVote, CCF's vote rule)

    def _campaign(self, kind: _Campaign) -> None:
        if not self.is_voter():
            return
        if kind is _Campaign.PRE_VOTE:
            self._become_pre_candidate()
            term = Term(self.term + 1)
        else:
            self._become_candidate()
            term = self.term
        voters = self.log.configuration().voters
        self._votes[self.id] = True
        if vote_result(voters, self._votes) is VoteResult.WON:
            self._won_election(kind is _Campaign.PRE_VOTE)
            return
        index, last_term = self.log.last_committable()
        for voter in sorted(voters - {self.id}):
            self._send(
                VoteRequest(
                    self.id,
                    voter,
                    term,
                    kind is _Campaign.PRE_VOTE,
                    index,
                    last_term,
                    transfer=kind is _Campaign.TRANSFER,
                )
            )

    def _won_election(self, pre_vote: bool) -> None:
        if pre_vote:
            self._campaign(_Campaign.ELECTION)
        else:
            self._become_leader()
            self._broadcast_append()

    def _handle_vote_request(self, message: VoteRequest) -> None:
        can_vote = (
            self.vote == message.src
            or (self.vote is None and self.leader is None)
            or (message.pre_vote and message.term > self.term)
        )
        my_index, my_term = self.log.last_committable()
        up_to_date = (message.last_committable_term, message.last_committable_index) >= (my_term, my_index)
        if can_vote and up_to_date:
            self._send(VoteResponse(self.id, message.src, message.term, message.pre_vote, True))
            if not message.pre_vote:
                self._election_elapsed = 0
                self.vote = message.src
        else:
            self._send(VoteResponse(self.id, message.src, self.term, message.pre_vote, False))

    def _handle_vote_response(self, message: VoteResponse) -> None:
        expected_pre_vote = self.role is Role.PRE_CANDIDATE
        if self.role not in (Role.PRE_CANDIDATE, Role.CANDIDATE) or message.pre_vote != expected_pre_vote:
            return
        self._votes.setdefault(message.src, message.granted)
        match vote_result(self.log.configuration().voters, self._votes):
            case VoteResult.WON:
                self._won_election(message.pre_vote)
            case VoteResult.LOST:
                self._become_follower(self.term, None)
            case VoteResult.PENDING:
                pass

    # Replication, leader side (Raft 5.3, etcd's Progress)

    def _broadcast_append(self) -> None:
        for node in self.progress:
            if node != self.id:
                self._maybe_send_append(node, send_if_empty=True)

    def _maybe_send_append(self, to: NodeId, *, send_if_empty: bool) -> bool:
        pr = self.progress[to]
        if pr.is_paused():
            return False
        log = self.log
        prev_index = Index(pr.next - 1)
        try:
            prev_term = log.term(prev_index)
            hi = min(log.last_index() + 1, pr.next + self.config.max_append_entries)
            entries = log.entries(pr.next, Index(hi))
        except CompactedError:
            return self._send_snapshot(to, pr)
        if not entries and not send_if_empty:
            return False
        entries = self._limit_bytes(entries)
        commit = log.committed
        self._send(AppendEntries(self.id, to, self.term, prev_index, prev_term, tuple(entries), commit))
        pr.sent_entries(Index(prev_index + len(entries)), len(entries))
        return True

    def _limit_bytes(self, entries: list[Entry]) -> list[Entry]:
        """Keep a prefix within max_append_bytes (always at least one entry)."""
        budget = self.config.max_append_bytes
        if sum(map(len, map(_data_of, entries))) <= budget:
            return entries
        for position, entry in enumerate(entries):
            budget -= len(entry.data)
            if budget < 0:
                return entries[: max(position, 1)]
        return entries

    def _send_snapshot(self, to: NodeId, pr: Progress) -> bool:
        snapshot = self.log.storage.snapshot()
        self._send(InstallSnapshot(self.id, to, self.term, snapshot))
        pr.become_snapshot(snapshot.index)
        return True

    def _broadcast_heartbeat(self) -> None:
        read_round = self._read_only.last_round
        for node, pr in self.progress.items():
            if node != self.id:
                commit = Index(min(pr.match, self.log.committed))
                self._send(Heartbeat(self.id, node, self.term, commit, read_round))

    def _handle_append_response(self, message: AppendResponse) -> None:
        pr = self.progress.get(message.src)
        if pr is None:
            return
        pr.recent_active = True
        if message.reject:
            next_probe = message.hint_index
            if message.hint_term > 0:
                next_probe, _ = self.log.find_conflict_by_term(message.hint_index, message.hint_term)
            if pr.maybe_decrease_to(message.index, next_probe):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._maybe_send_append(message.src, send_if_empty=True)
            return
        was_paused = pr.is_paused()
        if pr.maybe_update(message.index) or (pr.match == message.index and pr.state is ProgressState.PROBE):
            if pr.state is ProgressState.PROBE:
                pr.become_replicate()
            elif pr.state is ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
                pr.become_probe()
                pr.become_replicate()
            if self._maybe_commit():
                self._broadcast_append()
            elif was_paused:
                # It missed the commit index while paused (etcd does the same).
                self._maybe_send_append(message.src, send_if_empty=True)
            while self.role is Role.LEADER and self._maybe_send_append(message.src, send_if_empty=False):
                pass
            if message.src == self.lead_transferee and pr.match == self.log.last_index():
                self._send(TimeoutNow(self.id, message.src, self.term))

    def _handle_heartbeat_response(self, message: HeartbeatResponse) -> None:
        pr = self.progress.get(message.src)
        if pr is None:
            return
        # Lost AppendEntries or snapshot: give up on them after an election timeout of heartbeats.
        pr.heartbeat_answered(patience=max(2, self.config.election_tick // self.config.heartbeat_tick))
        if pr.match < self.log.last_index() or pr.state is ProgressState.PROBE:
            self._maybe_send_append(message.src, send_if_empty=True)
        if message.read_round:
            voters = self.log.configuration().voters
            for read in self._read_only.confirm(message.src, message.read_round, voters):
                self._answer_read(read.requester, read.index, read.context)

    def _maybe_commit(self) -> bool:
        """Raft 5.4.2 and CCF: commit the largest committable entry of this term held by a majority."""
        match = {node: pr.match for node, pr in self.progress.items()}
        candidate = self.log.committable_at_or_before(committed_index(self.log.configuration().voters, match))
        if candidate <= self.log.committed or self.log.term(candidate) != self.term:
            return False
        first_in_term = not self._committed_in_current_term()
        self.log.commit_to(candidate)
        if first_in_term:
            for requester, context in self._deferred_reads:
                self._leader_read_index(requester, context)
            self._deferred_reads = []
        if self.id not in self.log.configuration().voters and self.log.committed >= self._pending_conf_index:
            self._hand_over_after_removal()
        return True

    def _hand_over_after_removal(self) -> None:
        """Our removal is committed: wake the most up-to-date voter and stop leading."""
        voters = self.log.configuration().voters
        successor = max(sorted(voters), key=lambda node: self.progress[node].match)
        self._send(TimeoutNow(self.id, successor, self.term))
        self._become_follower(self.term, None)

    def _committed_in_current_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    # Replication, follower side

    def _handle_append(self, message: AppendEntries) -> None:
        log = self.log
        if message.prev_index < log.committed:
            self._ack_append(message.src, log.committed)
            return
        last_new = log.maybe_append(message.prev_index, message.prev_term, message.commit, message.entries)
        if last_new is not None:
            self._ack_append(message.src, last_new)
        else:
            hint_index, hint_term = log.find_conflict_by_term(
                Index(min(message.prev_index, log.last_index())), message.prev_term
            )
            self._send(
                AppendResponse(
                    self.id, message.src, self.term, message.prev_index, True, hint_index, hint_term
                )
            )

    def _ack_append(self, to: NodeId, index: Index) -> None:
        """One acceptance per leader and term goes out with a Ready, the highest: it says all the others
        say (the leader's `Progress.maybe_update` frees every AppendEntries up to it). A follower that
        takes several AppendEntries in one input so sends one answer, not one per AppendEntries."""
        ack = AppendResponse(self.id, to, self.term, index, False, Index(0), Term(0))
        pending = self._messages_after_persist
        for position, earlier in enumerate(pending):
            if (
                isinstance(earlier, AppendResponse)
                and not earlier.reject
                and (earlier.dst, earlier.term) == (to, self.term)
            ):
                del pending[position]
                if earlier.index > index:
                    ack = earlier
                break
        pending.append(ack)

    def _handle_heartbeat(self, message: Heartbeat) -> None:
        self.log.commit_to(Index(min(message.commit, self.log.last_index())))
        self._send(HeartbeatResponse(self.id, message.src, self.term, message.read_round))

    def _handle_snapshot(self, message: InstallSnapshot) -> None:
        """Raft 7: install a snapshot unless our log already holds its last entry."""
        snapshot = message.snapshot
        log = self.log
        if snapshot.index <= log.committed:
            self._ack_append(message.src, log.committed)
            return
        if log.matches(snapshot.index, snapshot.term):
            log.commit_to(snapshot.index)
            self._ack_append(message.src, log.committed)
        else:
            log.restore(snapshot)
            self._ack_append(message.src, log.last_index())

    # Read-index

    def _leader_read_index(self, requester: NodeId, context: bytes) -> None:
        voters = self.log.configuration().voters
        if voters == {self.id}:
            self._answer_read(requester, self.log.committed, context)
        elif not self._committed_in_current_term():
            # The commit index may lag entries committed by earlier leaders until this term commits.
            self._deferred_reads.append((requester, context))
        else:
            round_ = self._read_only.add_request(self.log.committed, requester, context)
            for read in self._read_only.confirm(self.id, round_, voters):
                self._answer_read(read.requester, read.index, read.context)
            self._broadcast_heartbeat()

    def _answer_read(self, requester: NodeId, index: Index, context: bytes) -> None:
        if requester == self.id:
            self._read_states.append(ReadState(index, context))
        else:
            self._send(ReadIndexResponse(self.id, requester, self.term, index, context))

    # Output

    def _send(self, message: Message) -> None:
        if isinstance(message, _AFTER_PERSIST):
            self._messages_after_persist.append(message)
        else:
            self._messages.append(message)

    def has_ready(self) -> bool:
        log = self.log
        return bool(
            self._messages
            or self._messages_after_persist
            or self._read_states
            or log.unstable_entries()
            or log.unstable_snapshot is not None
            or (log.committed > log.applied and log.unstable_snapshot is None)
            or self.hard_state() != self._persisted_hard_state
        )

    def ready(self) -> Ready:
        """Collect what to persist, send and apply (see `consensus.ready`); then call `advance`."""
        self._check_not_in_ready()
        hard_state = self.hard_state()
        ready = Ready(
            hard_state=None if hard_state == self._persisted_hard_state else hard_state,
            snapshot=self.log.unstable_snapshot,
            entries=tuple(self.log.unstable_entries()),
            messages=tuple(self._messages),
            messages_after_persist=tuple(self._messages_after_persist),
            committed_entries=tuple(self.log.next_committed_entries()),
            read_states=tuple(self._read_states),
        )
        self._messages = []
        self._messages_after_persist = []
        self._read_states = []
        self._in_ready = True
        return ready

    def advance(self, ready: Ready) -> None:
        """The application persisted `ready`, sent its messages and applied its committed entries."""
        if not self._in_ready:
            raise RaftUsageError("advance without ready")
        self._in_ready = False
        log = self.log
        if ready.hard_state is not None:
            self._persisted_hard_state = ready.hard_state
        if ready.snapshot is not None:
            log.stable_snapshot_to(ready.snapshot.index)
        if ready.entries:
            last = ready.entries[-1]
            log.stable_to(last.index, last.term)
        if ready.committed_entries:
            log.applied_to(ready.committed_entries[-1].index)
        if self.role is Role.LEADER and ready.entries:
            # The leader counts its own copy only once it is durable.
            self.progress[self.id].maybe_update(log.last_stable_index())
            if self._maybe_commit():
                self._broadcast_append()

    def _check_not_in_ready(self) -> None:
        if self._in_ready:
            raise RaftUsageError("call advance(ready) before any other input")
