"""A deterministic simulation of a Raft cluster under seeded faults, checking Raft's safety
properties (Raft figure 3, plus CCF's commit rule and read-index linearizability) after every step.

One seed fixes everything: the schedule of events (message delivery, ticks, persisting a Ready,
proposals, membership changes, leader transfers, compaction, reads), the faults (drop, delay,
duplicate, reorder, partitions including one-way ones, crashes and restarts from storage only) and
every node's randomness. After the faults stop, a leader must be elected and a new proposal must
commit within a bounded number of ticks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from consensus.errors import (
    ConfChangeRefusedError,
    InvalidConfChangeError,
    InvalidTransferError,
    NotLeaderError,
    ProposalDroppedError,
)
from consensus.messages import Message
from consensus.raft import Raft, RaftConfig, Role
from consensus.ready import Ready
from consensus.storage import InMemoryStorage
from consensus.types import ChangeKind, ConfChange, Configuration, Entry, Index, NodeId, Term
from tests.consensus.harness import Node, node_ids

REPLAY_COMMAND = (
    "SEALCHAIN_SIM_SEED={seed} .venv/bin/pytest tests/consensus/simulation/test_simulation.py -k replay"
)

# Liveness bound once faults stop: ticks to elect a leader and commit a fresh proposal.
LIVENESS_TICKS = 150


def simulation_for_seed(seed: int, raft_class: type[Raft] | None = None) -> Simulation:
    """The cluster a seed runs: 3 voters for even seeds, 5 for odd ones; every fourth seed runs
    plain Raft (no PreVote, no CheckQuorum), whose safety must not depend on them."""
    plain = seed % 4 == 3
    return Simulation(
        seed,
        voters=3 if seed % 2 == 0 else 5,
        raft_class=raft_class or Raft,
        pre_vote=not plain,
        check_quorum=not plain,
    )


class SafetyViolation(AssertionError):
    """A Raft safety property does not hold."""


class LivenessFailure(AssertionError):
    """The healed cluster did not elect a leader and commit within the bound."""


@dataclass(frozen=True)
class Faults:
    """`drop` and `duplicate` are per-delivery probabilities, `max_delay` is in ticks; the rest are the
    relative weights of the fault events (which take about one step in eight)."""

    drop: float = 0.05
    duplicate: float = 0.03
    max_delay: int = 3
    crash: float = 0.05
    restart: float = 0.45
    partition: float = 0.15
    heal: float = 0.35


@dataclass
class _InFlight:
    deliver_at: int
    message: Message


@dataclass
class _Checker:
    """Incremental checks, each O(new facts) per step."""

    leader_of_term: dict[Term, NodeId] = field(default_factory=dict)
    leader_log_tip: dict[tuple[NodeId, Term], tuple[Index, Term]] = field(default_factory=dict)
    entry_at: dict[tuple[Index, Term], tuple[bytes, bool, ConfChange | None, Term]] = field(
        default_factory=dict
    )
    applied_at: dict[Index, tuple[Term, bytes]] = field(default_factory=dict)
    # index -> (the entry's term, a term by which it was committed: the observer's term)
    committed: dict[Index, tuple[Term, Term]] = field(default_factory=dict)
    commit_high_water: int = 0
    read_floor: dict[bytes, int] = field(default_factory=dict)
    reads_served: int = 0


class Simulation:
    def __init__(
        self,
        seed: int,
        voters: int = 3,
        *,
        steps: int = 6000,
        faults: Faults | None = None,
        raft_class: type[Raft] = Raft,
        pre_vote: bool = True,
        check_quorum: bool = True,
    ) -> None:
        self.seed = seed
        self.pre_vote = pre_vote
        self.check_quorum = check_quorum
        self.rng = random.Random(seed)
        self.steps = steps
        self.faults = faults or Faults()
        ids = node_ids(voters + 2)  # two spares that may join as learners
        initial = Configuration(frozenset(ids[:voters]))
        self.nodes: dict[NodeId, Node] = {}
        for position, node_id in enumerate(ids):
            config = RaftConfig(
                node_id,
                election_tick=10,
                heartbeat_tick=2,
                max_append_entries=16,
                max_inflight=4,
                pre_vote=pre_vote,
                check_quorum=check_quorum,
            )
            self.nodes[node_id] = Node(
                node_id, InMemoryStorage(initial), config, seed * 100 + position, raft_class
            )
        self.pending: dict[NodeId, Ready] = {}
        self.network: list[_InFlight] = []
        self.cut: set[tuple[NodeId, NodeId]] = set()
        self.removed: set[NodeId] = set()
        self.now = 0
        self.check = _Checker()
        self._payload_counter = 0
        self._read_counter = 0
        self.log: list[str] = []

    # Running

    def run(self) -> None:
        try:
            for _ in range(self.steps):
                self._random_step()
                self._check_invariants()
            self._converge()
        except AssertionError as error:
            recent = "\n".join(self.log[-15:])
            command = REPLAY_COMMAND.format(seed=self.seed)
            raise type(error)(
                f"seed {self.seed}: {error}\nlast events:\n{recent}\nreplay: {command}"
            ) from error

    def _random_step(self) -> None:
        rng = self.rng
        roll = rng.random()
        faults = self.faults
        if self.pending and roll < 0.25:
            self._persist(rng.choice(sorted(self.pending)))
        elif roll < 0.55:
            self._deliver_one(faults)
        elif roll < 0.70:
            self._tick()
        elif roll < 0.80:
            self._propose()
        elif roll < 0.83:
            self._read()
        elif roll < 0.86:
            self._change_membership()
        elif roll < 0.865:
            self._transfer()
        elif roll < 0.875:
            self._compact()
        else:
            self._fault(faults)

    def _converge(self) -> None:
        """Faults stop: heal, restart everyone, deliver reliably; a leader must commit a new entry."""
        self.cut.clear()
        for node_id, node in self.nodes.items():
            if not node.alive:
                self._restart(node_id)
        proposal: tuple[NodeId, Index, Term] | None = None
        for _ in range(LIVENESS_TICKS):
            for _ in range(200):
                if not self.network and not self.pending:
                    break
                for node_id in sorted(self.pending):
                    self._persist(node_id)
                deliverable = [f for f in self.network if f.deliver_at <= self.now]
                self.network = [f for f in self.network if f.deliver_at > self.now]
                for in_flight in deliverable:
                    self._deliver(in_flight.message)
                if not deliverable and not self.pending:
                    break
                self._check_invariants()
            if proposal is not None:
                leader_id, index, term = proposal
                raft = self.nodes[leader_id].node
                if raft.commit_index >= index and raft.log.matches(index, term):
                    return
            leader = self._leader()
            if proposal is None and leader is not None and leader not in self.pending:
                raft = self.nodes[leader].node
                try:
                    index = raft.propose([self._payload()], committable=True)
                    proposal = (leader, index, raft.term)
                    self._after_input(leader)
                except ProposalDroppedError:
                    pass
            elif proposal is not None and self.nodes[proposal[0]].node.role is not Role.LEADER:
                proposal = None  # that leader lost its term; propose again to the next one
            self._tick()
            self._check_invariants()
        roles = {n: (node.node.role.value, node.node.term) for n, node in self.nodes.items() if node.alive}
        raise LivenessFailure(f"no commit within {LIVENESS_TICKS} ticks after healing: {roles}")

    # Events

    def _after_input(self, node_id: NodeId) -> None:
        """Start persisting a Ready as soon as there is one; its `messages` leave at once."""
        node = self.nodes[node_id]
        if node_id in self.pending or not node.alive or not node.node.has_ready():
            return
        ready = node.node.ready()
        self.pending[node_id] = ready
        self._post(ready.messages)

    def _persist(self, node_id: NodeId) -> None:
        ready = self.pending.pop(node_id)
        node = self.nodes[node_id]
        self._check_new_entries(node, ready)
        for entry in ready.committed_entries:
            self._check_apply(node_id, entry)
        self._post(node.persist_and_apply(ready))
        for read_state in ready.read_states:
            self._check_read(read_state.context, read_state.index)
        self._after_input(node_id)

    def _post(self, messages: tuple[Message, ...]) -> None:
        for message in messages:
            delay = self.rng.randint(0, self.faults.max_delay)
            self.network.append(_InFlight(self.now + delay, message))

    def _deliver_one(self, faults: Faults) -> None:
        ready = [i for i, f in enumerate(self.network) if f.deliver_at <= self.now]
        if not ready:
            return
        in_flight = self.network.pop(self.rng.choice(ready))  # any order: reordering
        if self.rng.random() < faults.drop:
            return
        if self.rng.random() < faults.duplicate:
            self.network.append(
                _InFlight(self.now + self.rng.randint(0, faults.max_delay), in_flight.message)
            )
        if in_flight.message.dst in self.pending:
            self.network.append(_InFlight(self.now, in_flight.message))  # busy persisting: later
            return
        self._deliver(in_flight.message)

    def _deliver(self, message: Message) -> None:
        node = self.nodes[message.dst]
        if (message.src, message.dst) in self.cut or not node.alive:
            return
        if message.dst in self.pending:
            self.network.append(_InFlight(self.now, message))
            return
        node.node.step(message)
        self._after_input(message.dst)

    def _tick(self) -> None:
        self.now += 1
        for node_id, node in self.nodes.items():
            if node.alive and node_id not in self.pending:
                node.node.tick()
                self._after_input(node_id)

    def _leader(self) -> NodeId | None:
        leaders = [
            (node.node.term, node_id)
            for node_id, node in self.nodes.items()
            if node.alive and node.node.role is Role.LEADER
        ]
        return max(leaders)[1] if leaders else None

    def _available_leader(self) -> Raft | None:
        leader = self._leader()
        if leader is None or leader in self.pending:
            return None
        return self.nodes[leader].node

    def _payload(self) -> bytes:
        self._payload_counter += 1
        return f"w{self._payload_counter}".encode()

    def _propose(self) -> None:
        raft = self._available_leader()
        if raft is None:
            return
        count = self.rng.randint(1, 4)
        try:
            raft.propose([self._payload() for _ in range(count)], committable=self.rng.random() < 0.5)
        except ProposalDroppedError:
            return
        self._after_input(raft.id)

    def _read(self) -> None:
        alive = [n for n, node in self.nodes.items() if node.alive and n not in self.pending]
        if not alive:
            return
        node_id = self.rng.choice(alive)
        self._read_counter += 1
        context = f"r{self._read_counter}".encode()
        self.check.read_floor[context] = self.check.commit_high_water
        try:
            self.nodes[node_id].node.read_index(context)
        except NotLeaderError:
            return
        self._after_input(node_id)

    def _change_membership(self) -> None:
        raft = self._available_leader()
        if raft is None:
            return
        configuration = raft.configuration
        options: list[ConfChange] = []
        for node_id in self.nodes:
            if node_id in self.removed:
                continue
            if node_id not in configuration.members:
                options.append(ConfChange(ChangeKind.ADD_LEARNER, node_id))
            elif node_id in configuration.learners:
                options += [ConfChange(ChangeKind.PROMOTE, node_id)] * 3  # rarely possible: try often
            elif len(configuration.voters) > 3 and (self.pre_vote or self.check_quorum):
                # Plain Raft cannot keep a removed server that missed its removal from disrupting
                # elections forever (dissertation 4.2.3): it needs PreVote or CheckQuorum.
                options.append(ConfChange(ChangeKind.REMOVE, node_id))
        if not options:
            return
        change = self.rng.choice(options)
        try:
            raft.propose_conf_change(change)
        except (ConfChangeRefusedError, InvalidConfChangeError, ProposalDroppedError):
            return
        if change.kind is ChangeKind.REMOVE:
            self.removed.add(change.node)  # never re-added under the same id
        self.log.append(f"t{self.now} {raft.id} proposes {change.kind.value} {change.node}")
        self._after_input(raft.id)

    def _transfer(self) -> None:
        raft = self._available_leader()
        if raft is None:
            return
        others = sorted(raft.configuration.voters - {raft.id})
        if not others:
            return
        try:
            raft.transfer_leadership(self.rng.choice(others))
        except InvalidTransferError:
            return
        self._after_input(raft.id)

    def _compact(self) -> None:
        alive = [n for n, node in self.nodes.items() if node.alive and n not in self.pending]
        if alive:
            self.nodes[self.rng.choice(alive)].compact()

    def _fault(self, faults: Faults) -> None:
        rng = self.rng
        roll = rng.random() * (faults.crash + faults.restart + faults.partition + faults.heal)
        alive = sorted(n for n, node in self.nodes.items() if node.alive)
        down = sorted(n for n, node in self.nodes.items() if not node.alive)
        if roll < faults.crash:
            if len(down) < 2:
                victim = rng.choice(alive)
                self.nodes[victim].crash()
                self.pending.pop(victim, None)  # whatever was not yet persisted is lost
                self.log.append(f"t{self.now} crash {victim}")
        elif roll < faults.crash + faults.restart:
            if down:
                self._restart(rng.choice(down))
        elif roll < faults.crash + faults.restart + faults.partition:
            ids = sorted(self.nodes)
            self.cut = {(a, b) for a in ids for b in ids if a != b and rng.random() < 0.3}
            # one-way cuts: (a, b) may be cut while (b, a) stays open
            self.log.append(f"t{self.now} partition {sorted(self.cut)}")
        else:
            self.cut.clear()
            self.log.append(f"t{self.now} heal")

    def _restart(self, node_id: NodeId) -> None:
        self.nodes[node_id].restart()
        self.log.append(f"t{self.now} restart {node_id}")
        self._after_input(node_id)

    # Invariants

    def _check_invariants(self) -> None:
        check = self.check
        for node_id, node in self.nodes.items():
            raft = node.raft
            if raft is None:
                continue
            log = raft.log
            commit = log.committed
            if commit > log.first_index() - 1 and not log.entries(commit, Index(commit + 1))[0].committable:
                raise SafetyViolation(f"{node_id} commit index {commit} is on a non-committable entry")
            if commit > check.commit_high_water:
                self._record_commits(raft, commit)
            if raft.role is not Role.LEADER:
                continue
            elected = check.leader_of_term.setdefault(raft.term, node_id)
            if elected != node_id:
                raise SafetyViolation(f"two leaders in term {raft.term}: {elected} and {node_id}")
            key = (node_id, raft.term)
            tip = check.leader_log_tip.get(key)
            if tip is None:
                self.log.append(f"t{self.now} {node_id} leads term {raft.term}")
                self._check_leader_completeness(raft)
            else:
                last, last_term = tip
                if log.last_index() < last or (last >= log.first_index() - 1 and log.term(last) != last_term):
                    raise SafetyViolation(f"leader {node_id} of term {raft.term} rewrote its log at {last}")
            last_index = log.last_index()
            check.leader_log_tip[key] = (last_index, log.term(last_index))

    def _record_commits(self, raft: Raft, commit: Index) -> None:
        """Entries newly known committed (by `raft`'s term at the latest). Raft 5.4, leader
        completeness: an entry committed in term T is in the log of every leader of a term > T."""
        check = self.check
        log = raft.log
        start = max(check.commit_high_water + 1, log.first_index())
        fresh = log.entries(Index(start), Index(commit + 1))
        for entry in fresh:
            known = check.committed.setdefault(entry.index, (entry.term, raft.term))
            if known[0] != entry.term:
                raise SafetyViolation(f"index {entry.index} committed with terms {known[0]} and {entry.term}")
        check.commit_high_water = commit
        for node in self.nodes.values():
            leader = node.raft
            if leader is not None and leader.role is Role.LEADER and leader.term > raft.term:
                self._check_leader_holds(leader, [(e.index, e.term) for e in fresh])

    def _check_leader_completeness(self, leader: Raft) -> None:
        earlier = [(i, t) for i, (t, by) in self.check.committed.items() if by < leader.term]
        self._check_leader_holds(leader, earlier)

    def _check_leader_holds(self, leader: Raft, committed: list[tuple[Index, Term]]) -> None:
        first = leader.log.first_index()
        for index, term in committed:
            if index >= first and not leader.log.matches(index, term):
                raise SafetyViolation(
                    f"leader {leader.id} of term {leader.term} lacks committed entry {index} of term {term}"
                )

    def _check_new_entries(self, node: Node, ready: Ready) -> None:
        """Log matching, incrementally: an (index, term) pair always names the same entry, and the
        same predecessor term, on every node."""
        entries = ready.entries
        if not entries:
            return
        before = entries[0].index - 1
        if ready.snapshot is not None and before == ready.snapshot.index:
            previous_term = ready.snapshot.term
        else:
            previous_term = node.storage.term(Index(before))
        for entry in entries:
            fact = (entry.data, entry.committable, entry.change, previous_term)
            known = self.check.entry_at.setdefault((entry.index, entry.term), fact)
            if known != fact:
                raise SafetyViolation(f"{node.id} holds a different entry at ({entry.index}, {entry.term})")
            previous_term = entry.term

    def _check_apply(self, node_id: NodeId, entry: Entry) -> None:
        """State machine safety: no two nodes apply different entries at one index."""
        known = self.check.applied_at.setdefault(entry.index, (entry.term, entry.data))
        if known != (entry.term, entry.data):
            raise SafetyViolation(f"{node_id} applies {entry.index} as {entry.term}, others as {known[0]}")

    def _check_read(self, context: bytes, index: Index) -> None:
        """Linearizable reads: a read sees every write committed before it was asked."""
        floor = self.check.read_floor.pop(context, None)
        if floor is None:
            return  # a duplicate answer
        if index < floor:
            raise SafetyViolation(f"read {context!r} served at {index} but {floor} was committed before it")
        self.check.reads_served += 1
