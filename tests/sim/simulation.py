"""The whole-node simulation driver: three nodes, a faulty network, clients, invariants after every step.

One seed fixes everything. Phases: genesis on node 0; nodes 1 and 2 join (mutual attestation) and become
voters; the operator opens the service; clients write to random nodes (followers forward) while the
network drops, delays, duplicates, reorders and partitions, and nodes crash and restart from their
durable state; in two seeds out of three the operator removes a node a third of the way in (a follower
or the primary, by seed) and asks again until its retirement commits; then the faults stop and the
cluster must converge (the removal completed, a primary among the others).

Checked after every step: a host's commit never goes back and is always durable; no two nodes hold
different committed entries at a seqno. At the end: every write acknowledged Committed is in every
node's committed ledger and KV (a removed node: those up to its retirement, which it must have committed
if and only if it is Retired); the ledgers agree byte for byte up to the common commit.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from enum import Enum

from consensus import NodeId as RaftNodeId
from enclave.crypto.cose import GovMessageType
from enclave.ledger.entry import decode_entry
from enclave.ledger.tables import NODES_INFO, NodeStatus
from enclave.runtime import messages as m
from enclave.runtime.boundary import EnclaveBoundary, decode_effects, encode_input
from enclave.runtime.rekey import LEDGER_SECRETS
from enclave.runtime.running import RunningNode
from enclave.runtime.service_maps import read_node
from tests.sim.world import EPOCH_MS, SETTINGS, TICK_MS, Host, addresses, carry_out, new_enclave, provisioned

RETRYABLE = frozenset({m.ErrorCode.NO_PRIMARY, m.ErrorCode.NOT_READY})

REPLAY_COMMAND = "SEALCHAIN_NODE_SIM_SEED={seed} .venv/bin/pytest tests/sim -k replay"
MAP = "records"


class SimulationFailure(AssertionError):
    pass


@dataclass(frozen=True)
class Faults:
    drop: float = 0.05
    duplicate: float = 0.03
    max_delay: int = 4
    crash: float = 0.01
    restart: float = 0.2
    partition: float = 0.01
    heal: float = 0.1


class Removal(Enum):
    """Which node the members remove mid-run (NONE: they trigger a ledger rekey instead)."""

    NONE = "none"
    FOLLOWER = "follower"
    PRIMARY = "primary"

    @classmethod
    def for_seed(cls, seed: int) -> Removal:
        return (cls.NONE, cls.FOLLOWER, cls.PRIMARY)[seed % 3]


@dataclass
class _Packet:
    deliver_at: int
    src: int
    dst: int
    effect: m.SendToPeer | m.SendJoinRequest | m.RespondToJoin
    join_request_id: int | None = None


@dataclass
class _Write:
    key: bytes
    value: bytes
    node: int
    txid: m.TxRef | None = None


@dataclass
class Simulation:
    seed: int
    faults: Faults = field(default_factory=Faults)
    settings: m.ConsensusSettings = SETTINGS
    rng: random.Random = field(init=False)
    hosts: list[Host] = field(init=False)
    step_no: int = 0
    in_flight: list[_Packet] = field(default_factory=list)
    cut: set[frozenset[int]] = field(default_factory=set)
    faulty: bool = False
    writes: dict[int, _Write] = field(default_factory=dict)
    acknowledged: list[_Write] = field(default_factory=list)
    reads: dict[int, _Write] = field(default_factory=dict)  # linearizable reads of acknowledged writes
    reads_checked: int = 0
    join_requests: dict[int, int] = field(default_factory=dict)  # join request id -> joiner
    next_request_id: int = 1
    node_ids: list[str] = field(default_factory=list)
    crashes: int = 0
    restarts: int = 0
    removal: Removal = field(init=False)
    removed: int | None = None  # the node the operator removes, once chosen
    removal_asked: tuple[int, int, int] | None = None  # (node asked, request id, step) of the last ask
    removal_proposal: str | None = None  # the open proposal (removal or rekey) the member votes for
    rekey_wanted: bool = False  # a seed without a removal rekeys instead
    rekey_seqno: int | None = None  # where a committed ledger holds the rekey, once one does
    _rekey_scanned: list[int] = field(default_factory=lambda: [0, 0, 0])
    governance_requests: int = 0  # signed so far (each one signed at a distinct created_at)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.hosts = [Host(i, new_enclave(i, self.rng)) for i in range(3)]
        self.removal = Removal.for_seed(self.seed)

    # -- plumbing -----------------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return EPOCH_MS + self.step_no * TICK_MS

    def give(self, index: int, message: m.HostInput) -> list[m.Effect]:
        host = self.hosts[index]
        assert host.enclave is not None
        # Through the byte boundary, as the host calls it: every real message round-trips.
        effects = decode_effects(EnclaveBoundary(host.enclave).handle(encode_input(message)))
        cut = None
        if self.faulty and self.rng.random() < self.faults.crash / 4 and effects:
            cut = self.rng.randrange(len(effects) + 1)
        carry_out(host, effects, self._send, cut)
        if cut is not None:
            self.crashes += 1
            self._forget_packets_to(index)
        self._check(host)
        return effects

    def _send(self, src: int, effect: m.Effect) -> None:
        assert isinstance(effect, m.SendToPeer | m.SendJoinRequest | m.RespondToJoin)
        match effect:
            case m.SendToPeer():
                dst = self.node_ids.index(effect.node_id) if effect.node_id in self.node_ids else None
            case m.SendJoinRequest():
                dst = next(i for i in range(3) if addresses(i).peer == effect.target_address)
            case m.RespondToJoin():
                dst = self.join_requests.pop(effect.request_id, None)
        if dst is None or not self.hosts[src].up:
            return
        copies = 1
        if self.faulty:
            if frozenset({src, dst}) in self.cut or self.rng.random() < self.faults.drop:
                return
            if self.rng.random() < self.faults.duplicate:
                copies = 2
        for _ in range(copies):
            delay = 1 + (self.rng.randrange(self.faults.max_delay) if self.faulty else 0)
            self.in_flight.append(_Packet(self.step_no + delay, src, dst, effect))

    def _forget_packets_to(self, index: int) -> None:
        self.in_flight = [p for p in self.in_flight if p.dst != index]

    def _deliver(self) -> None:
        due = [p for p in self.in_flight if p.deliver_at <= self.step_no]
        self.in_flight = [p for p in self.in_flight if p.deliver_at > self.step_no]
        if self.faulty:  # a link delivers in order: only faults reorder
            self.rng.shuffle(due)
        # Half the steps hand each node its frames as one batch, as a busy host does (node/host.py).
        batches: dict[int, list[m.PeerMessage]] | None = {} if self.rng.random() < 0.5 else None
        for packet in due:
            host = self.hosts[packet.dst]
            if not host.up or (
                not self.hosts[packet.src].up and isinstance(packet.effect, m.SendJoinRequest)
            ):
                continue
            match packet.effect:
                case m.SendToPeer():
                    message = m.PeerMessage(self.node_ids[packet.src], packet.effect.frame)
                    if batches is None:
                        self.give(packet.dst, message)
                    else:
                        batches.setdefault(packet.dst, []).append(message)
                case m.SendJoinRequest():
                    request_id = self._request_id()
                    self.join_requests[request_id] = packet.src
                    self.give(packet.dst, m.JoinRequestReceived(request_id, packet.effect.request))
                case m.RespondToJoin():
                    self.give(packet.dst, m.JoinResponseReceived(packet.effect.response))
            if self.hosts[packet.dst].up and len(self.node_ids) < 3:
                self._learn_node_ids()
        for index, messages in (batches or {}).items():
            if self.hosts[index].up:
                self.give(index, m.PeerMessageBatch(tuple(messages)) if len(messages) > 1 else messages[0])

    def _request_id(self) -> int:
        self.next_request_id += 1
        return self.next_request_id

    def _learn_node_ids(self) -> None:
        for host in self.hosts:
            enclave = host.enclave
            if enclave is not None and enclave.node is not None and enclave.node.node_id not in self.node_ids:
                while len(self.node_ids) < host.index:
                    self.node_ids.append("")
                if len(self.node_ids) == host.index:
                    self.node_ids.append(enclave.node.node_id)
                else:
                    self.node_ids[host.index] = enclave.node.node_id

    def step(self) -> None:
        self.step_no += 1
        self._deliver()
        for host in self.hosts:
            if host.up:
                self.give(host.index, m.Tick(self.now_ms))
        self._learn_node_ids()
        self._ask_for_removal()
        self._note_rekey()
        if self.faulty:
            self._maybe_fault()

    # -- removing a node (the operator) --------------------------------------------------------------

    def remove_a_node(self) -> None:
        """Pick the node to remove now: the primary, or one of the others."""
        leader = self.leader()
        if self.removal is Removal.NONE:
            self.rekey_wanted = True
            return
        if self.removed is not None or leader is None:
            return
        others = [i for i in range(3) if i != leader]
        self.removed = leader if self.removal is Removal.PRIMARY else self.rng.choice(others)

    def _ask_for_removal(self) -> None:
        """The member proposes `remove_node` and votes for it, through the primary, until the retirement
        commits. A committed Open proposal gets the ballot next; anything else (refused, rolled back, or
        unanswered for a while because the answer was lost in a crash) starts over with a new proposal."""
        if self.removed is None and not self.rekey_wanted:
            return
        if self.retirement_committed() if self.removed is not None else self.rekey_seqno is not None:
            return
        if self.removal_asked is not None:
            asked, request_id, step = self.removal_asked
            answer = self.hosts[asked].answers.pop(request_id, None)
            if answer is None and self.step_no - step < 30:
                return
            self.removal_proposal = None
            if isinstance(answer, m.GovernanceResult) and answer.status is m.TxStatus.COMMITTED:
                self.removal_proposal = answer.proposal_id if answer.proposal_state == "Open" else None
        leader = self.leader()
        if leader is None:
            return
        if self.removal_proposal is None:
            action: dict[str, object] = {"name": "trigger_ledger_rekey"}
            if self.removed is not None:
                action = {"name": "remove_node", "args": {"node_id": self.node_ids[self.removed]}}
            call = self.member_call(GovMessageType.PROPOSAL, {"actions": [action]})
        else:
            call = self.member_call(GovMessageType.BALLOT, {"vote": "accept"}, self.removal_proposal)
        request_id = self._request_id()
        self.removal_asked = (leader, request_id, self.step_no)
        self.give(leader, m.ClientRequest(request_id, provisioned().member_cert_der, call))

    def member_call(
        self, msg_type: GovMessageType, payload: object, proposal_id: str | None = None
    ) -> m.ClientCall:
        """A request the member signs now; each at another `created_at` (within the accepted age), so a
        retry is never refused as a replay of the request it replaces."""
        self.governance_requests += 1
        created_at = self.now_ms // 1000 - self.governance_requests % 200
        return provisioned().member_request(msg_type, payload, created_at, proposal_id)

    def govern(
        self,
        msg_type: GovMessageType,
        payload: object,
        proposal_id: str | None = None,
        *,
        at: int | None = None,
    ) -> m.GovernanceResult:
        """One governance request through node `at` (default: whichever node leads), asked again until
        it commits (for fault-free scenarios: a lost answer there means a new leader, and nothing was
        applied)."""
        call = self.member_call(msg_type, payload, proposal_id)
        outcome: list[m.GovernanceResult] = []
        asked: list[tuple[int, int]] = []

        def committed() -> bool:
            if asked:
                index, request_id = asked[-1]
                answer = self.hosts[index].answers.pop(request_id, None)
                if isinstance(answer, m.GovernanceResult) and answer.status is m.TxStatus.COMMITTED:
                    outcome.append(answer)
                    return True
                if answer is None and (at is not None or self.leader() == index):
                    return False
                if isinstance(answer, m.CallError) and answer.code not in RETRYABLE:
                    raise SimulationFailure(f"governance refused {msg_type}: {answer}")
            target = self.leader() if at is None else at
            if target is not None:
                asked.append((target, self._request_id()))
                self.give(target, m.ClientRequest(asked[-1][1], provisioned().member_cert_der, call))
            return False

        self.run_until(committed, 400, f"a committed {msg_type} request")
        return outcome[0]

    def pass_proposal(
        self, *actions: tuple[str, dict[str, object]], at: int | None = None
    ) -> m.GovernanceResult:
        """The (Active) member proposes `actions` and votes for them: the ballot's result."""
        proposal = {"actions": [{"name": name, "args": args} for name, args in actions]}
        proposed = self.govern(GovMessageType.PROPOSAL, proposal, at=at)
        return self.govern(GovMessageType.BALLOT, {"vote": "accept"}, proposed.proposal_id, at=at)

    def open_service(self) -> None:
        """What `network up` does through governance: the member acks the state digest (it is then
        Active), proposes `transition_service_to_open` and votes for it."""
        issued = self.govern(GovMessageType.STATE_DIGEST, b"")
        self.govern(GovMessageType.ACK, json.loads(issued.body_json))
        voted = self.pass_proposal(("transition_service_to_open", {}))
        assert voted.proposal_state == "Accepted", voted

    def _note_rekey(self) -> None:
        """Scans newly committed ledger entries for the rekey (see rekey.py)."""
        if not self.rekey_wanted or self.rekey_seqno is not None:
            return
        for host in self.hosts:
            start = self._rekey_scanned[host.index]
            for seqno in range(max(start, host.written.base) + 1, host.committed + 1):
                raw = host.written.entry(seqno)
                if raw is not None and LEDGER_SECRETS in decode_entry(raw).public_maps:
                    self.rekey_seqno = seqno
                    return
            self._rekey_scanned[host.index] = max(start, host.committed)

    def retirement_committed(self) -> bool:
        assert self.removed is not None
        removed_id = self.node_ids[self.removed]
        for host in self.hosts:
            if host.enclave is not None and host.enclave.node is not None:
                record = read_node(host.enclave.node.rep.kv.begin_committed(), removed_id)
                if record is not None and record.status is NodeStatus.RETIRED:
                    return True
        return False

    def removal_done(self) -> bool:
        """The retirement and the Raft removal committed, and a primary among the others leads."""
        if self.removed is None:
            return True
        leader = self.leader()
        if leader is None or leader == self.removed or not self.retirement_committed():
            return False
        raft = self.running(leader).rep.raft
        return (
            RaftNodeId(self.node_ids[self.removed]) not in raft.configuration.members
            and raft.log.last_configuration_index() <= raft.commit_index
        )

    def retirement_seqno(self, host: Host) -> int:
        """Where `host`'s committed ledger records the removed node Retired."""
        assert self.removed is not None
        removed_id = self.node_ids[self.removed].encode()
        base = host.written.base
        for seqno, raw in enumerate(host.written.ledger[: host.committed - base], start=base + 1):
            writes = decode_entry(raw).public_maps.get(NODES_INFO)
            raw_info = None if writes is None else writes.writes.get(removed_id)
            if raw_info is not None and json.loads(raw_info)["status"] == NodeStatus.RETIRED.value:
                return seqno
        raise SimulationFailure(f"node {host.index} has not committed the retirement")

    # -- faults -------------------------------------------------------------------------------------

    def _maybe_fault(self) -> None:
        roll = self.rng.random()
        if roll < self.faults.crash:
            index = self.rng.randrange(3)
            if self.hosts[index].up:
                self.crashes += 1
                self.hosts[index].crash()
                self._forget_packets_to(index)
        elif roll < self.faults.crash + self.faults.restart:
            down = [h for h in self.hosts if not h.up]
            if down:
                self.restart(self.rng.choice(down).index)
        elif roll < self.faults.crash + self.faults.restart + self.faults.partition:
            a, b = self.rng.sample(range(3), 2)
            self.cut.add(frozenset({a, b}))
        elif roll < self.faults.crash + self.faults.restart + self.faults.partition + self.faults.heal:
            self.cut.clear()

    def restart(self, index: int) -> None:
        host = self.hosts[index]
        self.restarts += 1
        host.enclave = new_enclave(index, self.rng)
        self.give(index, host.restart_input(self.now_ms, self.settings))

    # -- invariants ---------------------------------------------------------------------------------

    def _check(self, host: Host) -> None:
        if host.committed > host.durable.last and not host.up:
            raise SimulationFailure(f"node {host.index} committed {host.committed} but lost it in a crash")
        for other in self.hosts:
            common = min(host.committed, other.committed)
            held_from = max(host.written.base, other.written.base)
            if committed_overlap(host, common, held_from) != committed_overlap(other, common, held_from):
                raise SimulationFailure(f"nodes {host.index} and {other.index} committed different entries")

    # -- the scenario -------------------------------------------------------------------------------

    def run_until(self, condition: object, limit: int, what: str) -> None:
        assert callable(condition)
        for _ in range(limit):
            if condition():
                return
            self.step()
        raise SimulationFailure(f"{what} did not happen within {limit} steps")

    def voters(self) -> int:
        enclave = self.hosts[0].enclave
        if enclave is None or enclave.node is None:
            return 0
        return len(enclave.node.rep.raft.configuration.voters)

    def running(self, index: int) -> RunningNode:
        enclave = self.hosts[index].enclave
        assert enclave is not None and enclave.node is not None, f"node {index} is not running"
        return enclave.node

    def state_of(self, index: int) -> m.LifecycleState | None:
        """Node `index`'s lifecycle state (None while it is down)."""
        enclave = self.hosts[index].enclave
        return None if enclave is None else enclave.state

    def leader(self) -> int | None:
        """The node that can take writes now (the leader of the highest term, if several think so)."""
        leaders = [
            (host.enclave.node.rep.raft.term, host.index)
            for host in self.hosts
            if host.enclave is not None
            and host.enclave.node is not None
            and host.enclave.node.rep.can_propose()
        ]
        return max(leaders)[1] if leaders else None

    def setup(self) -> None:
        world = provisioned()
        self.give(
            0,
            m.StartNetwork(
                self.now_ms, addresses(0), (world.member_info,), (world.user_cert_pem,), self.settings
            ),
        )
        self._learn_node_ids()
        service_cert = self.hosts[0].service_cert_pem
        assert service_cert is not None
        for index in (1, 2):
            self.give(
                index,
                m.JoinNetwork(self.now_ms, addresses(index), addresses(0).peer, service_cert, self.settings),
            )
        self.run_until(lambda: self.voters() == 3, 400, "three voters")
        self.open_service()

    def submit_write(self) -> None:
        index = self.rng.randrange(3)
        if not self.hosts[index].up:
            return
        request_id = self._request_id()
        write = _Write(f"k{request_id}".encode(), f"v{request_id}".encode(), index)
        self.writes[request_id] = write
        call = m.Put(MAP, write.key, write.value)
        self.give(index, m.ClientRequest(request_id, provisioned().user_cert_der, call))

    def submit_read(self) -> None:
        """A linearizable read of a write acknowledged before it was sent must see that write."""
        index = self.rng.randrange(3)
        if not self.hosts[index].up or not self.acknowledged:
            return
        request_id = self._request_id()
        write = self.rng.choice(self.acknowledged)
        self.reads[request_id] = write
        self.give(index, m.ClientRequest(request_id, provisioned().user_cert_der, m.Get(MAP, write.key)))

    def collect_answers(self) -> None:
        for host in self.hosts:
            for request_id in [r for r in host.answers if r in self.reads]:
                result = host.answers.pop(request_id)
                write = self.reads.pop(request_id)
                if isinstance(result, m.GetResult):
                    if result.value != write.value:
                        raise SimulationFailure(f"a linearizable read of {write.key!r} saw {result.value!r}")
                    self.reads_checked += 1
        for host in self.hosts:
            for request_id in [r for r in host.answers if r in self.writes]:
                result = host.answers.pop(request_id)
                write = self.writes.pop(request_id)
                if isinstance(result, m.WriteResult) and result.status is m.TxStatus.COMMITTED:
                    write.txid = result.txid
                    self.acknowledged.append(write)

    def run(self, workload_steps: int = 150, heal_limit: int = 600, *, honest_hosts: bool = True) -> None:
        self.setup()
        for host in self.hosts:
            host.honours_flush = honest_hosts
        self.faulty = True
        for step in range(workload_steps):
            if step >= workload_steps // 3:
                self.remove_a_node()
            if self.rng.random() < 0.5:
                self.submit_write()
            if self.rng.random() < 0.2:
                self.submit_read()
            self.step()
            self.collect_answers()
        self.faulty = False
        self.cut.clear()
        for host in self.hosts:
            if not host.up:
                self.restart(host.index)
        self.run_until(self.converged, heal_limit, "convergence after healing")
        self.check_final()

    def _check_rekeyed(self) -> None:
        """Every node holds the same ledger secret for every seqno it may read (after the snapshot it
        started from, if any), and one starts just after the committed rekey on the nodes that hold
        that part of the ledger."""
        held_from = max(host.written.base for host in self.hosts) + 1
        last = max(host.written.last for host in self.hosts)
        for seqno in range(held_from, last + 1):
            keys = {self.running(h.index).secrets.ledger_secrets.secret_for(seqno).key for h in self.hosts}
            if len(keys) != 1:
                raise SimulationFailure(f"the nodes hold different ledger secrets for seqno {seqno}")
        assert self.rekey_seqno is not None
        for host in self.hosts:
            if host.written.base > self.rekey_seqno:
                continue
            starts = [start for start, _ in self.running(host.index).secrets.ledger_secrets.versions()]
            if self.rekey_seqno + 1 not in starts:
                raise SimulationFailure(
                    f"node {host.index}: no secret starts after the rekey at {self.rekey_seqno}: {starts}"
                )

    def serving(self) -> list[Host]:
        """The hosts still in the service (all but a removed one)."""
        return [host for host in self.hosts if host.index != self.removed]

    def converged(self) -> bool:
        self.collect_answers()
        enclaves = [h.enclave for h in self.hosts]
        if any(e is None or e.node is None for e in enclaves) or not self.removal_done():
            return False
        if self.rekey_wanted and self.rekey_seqno is None:
            return False
        lasts = {h.written.last for h in self.serving()}
        commits = {h.committed for h in self.serving()}
        return len(lasts) == 1 and commits == {lasts.pop()} and self.leader() is not None

    def check_final(self) -> None:
        common = min(h.committed for h in self.hosts)
        held_from = max(h.written.base for h in self.hosts)
        reference = committed_overlap(self.hosts[0], common, held_from)
        for host in self.hosts:
            if committed_overlap(host, common, held_from) != reference:
                raise SimulationFailure(
                    f"node {host.index}'s ledger differs below the common commit {common}"
                )
        self._check_acknowledged_txids()
        if self.rekey_wanted:
            self._check_rekeyed()
        checked_up_to = {host.index: host.committed for host in self.hosts}
        if self.removed is not None:
            gone = self.hosts[self.removed]
            # In the ledger that reaches back furthest (the others may start from a later snapshot).
            retired_at = self.retirement_seqno(min(self.serving(), key=lambda host: host.written.base))
            state = self.state_of(gone.index)
            if (state is m.LifecycleState.RETIRED) != (gone.committed >= retired_at):
                raise SimulationFailure(
                    f"removed node {gone.index} is {state} having committed {gone.committed} "
                    f"(its retirement is at {retired_at})"
                )
            checked_up_to[gone.index] = min(gone.committed, retired_at)
        for write in self.acknowledged:
            assert write.txid is not None
            for host in self.hosts:
                if write.txid.seqno > checked_up_to[host.index]:
                    if host.index == self.removed:
                        continue

                    raise SimulationFailure(
                        f"acknowledged {write.txid} is not committed on node {host.index}"
                    )
                enclave = host.enclave
                assert enclave is not None and enclave.node is not None
                if enclave.node.rep.writer.view_at(write.txid.seqno) != write.txid.view:
                    raise SimulationFailure(f"acknowledged {write.txid} was replaced on node {host.index}")
                value = enclave.node.rep.kv.begin_committed().get(MAP, write.key)
                if value != write.value:
                    raise SimulationFailure(f"acknowledged write {write.key!r} missing on node {host.index}")

    def _check_acknowledged_txids(self) -> None:
        """The transaction an acknowledgement names is the one that wrote the key (a receipt for it
        proves that write), not merely some committed transaction of that view (checked in the ledger
        of a serving node that holds it; the others started from a snapshot after it)."""
        for write in self.acknowledged:
            assert write.txid is not None
            holders = [h for h in self.serving() if h.written.base < write.txid.seqno]
            if not holders:
                continue  # every node started from a later snapshot: `check_final` checks the KV instead
            if written_at(holders[0], write.txid).get(write.key) != write.value:
                raise SimulationFailure(f"acknowledged {write.txid} does not hold the write of {write.key!r}")


def written_at(host: Host, txid: m.TxRef) -> dict[bytes, bytes]:
    """What the transaction at `txid` in `host`'s ledger wrote to the workload's map (decrypted)."""
    enclave = host.enclave
    assert enclave is not None and enclave.node is not None
    raw = host.written.entry(txid.seqno)
    if raw is None:
        return {}
    entry = decode_entry(raw)
    if (entry.txid.view, entry.txid.seqno) != (txid.view, txid.seqno):
        return {}
    writes = entry.decrypt_private(enclave.node.secrets.ledger_secrets.secret_for(txid.seqno)).get(MAP)
    return {} if writes is None else dict(writes.writes)


def committed_overlap(host: Host, common: int, held_from: int = 0) -> list[bytes]:
    """`host`'s ledger entries from after `held_from` (and after its own snapshot) up to `common`."""
    start = max(held_from, host.written.base)
    return host.written.ledger[start - host.written.base : max(start, common) - host.written.base]
