"""A node that is part of the network: Raft, ledger and KV (replication.py), channels (peers.py), client
and governance calls, forwarding, and the service side of joins.

Every handler ends with `_drain`, which asks one read index for the linearizable reads waiting (unless a
round is in flight: then they wait for it to end, as etcd's read loop does), runs Raft's Ready loop,
answers what committed or was truncated, and serves the reads whose index is confirmed; between a
proposal and its drain nothing else steps Raft.

Removal (CCF: a removed node becomes Retired): governance's `remove_node` records the node Retired; once
that commits
the primary proposes the Raft removal (membership.py). The retired node sees its own retirement commit
(it still replicates until the removal is appended) and from then on answers no client, proposes nothing
and never campaigns; a retired primary keeps leading only until Raft hands over after its own removal
commits. Once a removal commits, the others stop sending to the node and drop its channel.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509

from consensus import ConfChangeRefusedError, InvalidConfChangeError, Role
from consensus.messages import InstallSnapshot, Message
from enclave.apps import registry
from enclave.apps.api import Caller, ProcedureError
from enclave.crypto.ids import NodeId
from enclave.governance.errors import RequestRefused
from enclave.governance.tables import allowed_measurements
from enclave.kv.execute import Executed, TooManyConflicts, execute
from enclave.kv.transaction import Committed, Transaction
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES, NodeStatus, ServiceStatus, endorsed_node_writes
from enclave.ledger.writer import LedgerWriterError
from enclave.platform.api import Platform, PlatformName, RandomBytes
from enclave.runtime import governance_calls, join_wire, peer_wire
from enclave.runtime import messages as m
from enclave.runtime.client_calls import CallRefused, apply_write, authorise_user, check_call, read
from enclave.runtime.errors import JoinRefused, PeerRejected
from enclave.runtime.forwarding import Forwarder, pending_join
from enclave.runtime.join import VerifiedJoin, accepted_response, endorse_joiner, verify_join_request
from enclave.runtime.membership import next_membership_change, removed_nodes
from enclave.runtime.node_secrets import NodeSecrets
from enclave.runtime.peer_wire import (
    ForwardBatch,
    ForwardCall,
    ForwardedJoinResponse,
    ForwardedResult,
    ForwardJoin,
    PayloadKind,
)
from enclave.runtime.peers import Peers, Received
from enclave.runtime.private_recovery import RecoveryContext
from enclave.runtime.recovery_shares import reissue, shares_are_stale
from enclave.runtime.recovery_start import recovered_at
from enclave.runtime.rekey import pending_request, rekey
from enclave.runtime.replication import Replicator
from enclave.runtime.replies import CommitWaiter, Forwarded, LocalClient, LocalJoin, ReplyTo, WriteOutcome
from enclave.runtime.service_maps import (
    client_certificate_pems,
    membership_write_set,
    node_data,
    read_node,
    read_nodes,
    read_service_status,
)
from enclave.runtime.tx_status import tx_status
from enclave.snapshots.snapshot import SnapshotRejected


def at_ms(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC)


_Write = m.Put | m.Delete | m.GovSubmit | m.CallProcedure
_Read = m.Get | m.Scan | m.GovRead | m.CallProcedure


@dataclass(frozen=True, slots=True)
class _Request:
    """A call on its way to execution, with the user who made it (None: a member's governance request,
    authenticated by its signature instead)."""

    reply_to: ReplyTo
    call: m.ClientCall
    caller: Caller | None


@dataclass(slots=True)
class _PendingReads:
    """Linearizable reads waiting for one read-index round (its context is their key in `_reads`)."""

    requests: list[_Request]
    term: int  # Raft forgets its read-index rounds when this node's term or role changes
    age: int = 0


class RunningNode:
    def __init__(
        self,
        *,
        secrets: NodeSecrets,
        replicator: Replicator,
        platform: Platform,
        random_bytes: RandomBytes,
        vendor_roots: Mapping[PlatformName, x509.Certificate],
        settings: m.ConsensusSettings,
        addresses: m.NodeAddresses,
        now_ms: int,
    ) -> None:
        self.secrets = secrets
        self.rep = replicator
        self.node_id = secrets.node.node_id
        self._platform = platform
        self._random_bytes = random_bytes
        self._roots = vendor_roots
        self._settings = settings
        self._addresses = addresses
        self._now_ms = now_ms
        self.peers = Peers(secrets.node, secrets.service.cert, random_bytes, settings.channel_retry_ticks)
        self._waiters: dict[int, list[CommitWaiter]] = defaultdict(list)
        self._reads: dict[bytes, _PendingReads] = {}
        # Linearizable reads waiting for a read-index round: a drain asks one for all of them, once no
        # other round is in flight.
        self._reads_to_index: list[_Request] = []
        self._known_peers: tuple[m.PeerAddress, ...] | None = None
        self._client_certs: tuple[str, ...] | None = None
        # Nodes whose removal committed (Retired is final, so this only grows).
        self._removed: frozenset[str] = frozenset()
        # This node's own retirement is committed.
        self.retired = False
        # Peers known before the nodes table says where they are (a joiner's responder).
        self.bootstrap_peers: tuple[m.PeerAddress, ...] = ()
        # Forwarded requests and reads not answered in this many ticks get a retryable error.
        self._timeout_ticks = 3 * settings.election_ticks
        self._forwarder = Forwarder(self.peers, self._timeout_ticks, random_bytes)

    # -- inputs ------------------------------------------------------------------------------------

    def tick(self, now_ms: int) -> list[m.Effect]:
        self._now_ms = now_ms
        effects = self.peers.tick()
        effects += self._expire()
        if not self.retired or self.rep.raft.role is Role.LEADER:
            # A retired node never campaigns; a retired primary leads on until Raft hands over.
            self.rep.raft.tick()
        effects += self.drain()
        if self.rep.can_propose():
            self._manage_membership()
            self._rekey_if_requested()
            self._reissue_shares_if_stale()
            if read_service_status(self.rep.kv.begin_committed()) is ServiceStatus.OPEN:
                self.rep.maybe_snapshot()
            self.rep.maybe_sign(now_ms)
        return effects + self.drain()

    def peer_message(self, sender: str, frame: bytes) -> list[m.Effect]:
        """Raises `PeerRejected` (nothing changed) for a frame the channel refuses."""
        writes: list[_Request] = []
        effects = self._received_frame(sender, frame, writes)
        return effects + self._execute_writes(writes) + self.drain()

    def peer_messages(self, messages: tuple[m.PeerMessage, ...]) -> list[m.Effect]:
        """Frames that arrived together: their forwarded writes run as one batch after every frame is
        taken, then one drain. A frame the channel refuses is logged and changes nothing."""
        effects: list[m.Effect] = []
        writes: list[_Request] = []
        for message in messages:
            try:
                effects += self._received_frame(message.from_node_id, message.frame, writes)
            except PeerRejected as rejected:
                # Worded as `Enclave.handle` words a refused PeerMessage on its own.
                text = f"refused PeerMessage: {type(rejected).__name__}: {rejected}"
                effects.append(m.Log(m.LogLevel.WARNING, text))
        if writes:
            # What the frames appended (a new leader's election entry) reaches the writer and the KV
            # before anything is executed on them.
            effects += self.drain()
        return effects + self._execute_writes(writes) + self.drain()

    def _received_frame(self, sender: str, frame: bytes, writes: list[_Request]) -> list[m.Effect]:
        """Takes one frame; the forwarded writes it carries join `writes`, executed by the caller."""
        effects, received = self.peers.receive(sender, frame)
        for item in received:
            effects += self._on_received(item, writes)
        return effects

    def client_requests(self, requests: list[m.ClientRequest]) -> list[m.Effect]:
        effects: list[m.Effect] = []
        batch: list[_Request] = []
        for request in requests:
            effects += self._client_call(
                LocalClient(request.request_id), request.caller_cert_der, request.call, batch
            )
        return effects + self._execute_writes(batch) + self.drain()

    def join_request(self, request_id: int, data: bytes) -> list[m.Effect]:
        return self._join(LocalJoin(request_id), data) + self.drain()

    def status(self, request_id: int, state: m.LifecycleState) -> m.NodeStatusReport:
        raft = self.rep.raft
        writer = self.rep.writer
        commit = self.rep.ledger_commit
        last = writer.last_txid
        return m.NodeStatusReport(
            request_id=request_id,
            node_id=self.node_id,
            state=state,
            role=raft.role.value,
            term=raft.term,
            commit=m.TxRef(writer.view_at(commit), commit),
            last=m.TxRef(last.view, last.seqno),
            primary=raft.leader,
            service_status=_status_text(read_service_status(self.rep.kv.begin())),
            voter=raft.id in raft.log.configuration_at(raft.commit_index).voters,
        )

    # -- client calls ------------------------------------------------------------------------------

    def _client_call(
        self,
        reply_to: ReplyTo,
        caller_cert_der: bytes,
        call: m.ClientCall,
        batch: list[_Request],
    ) -> list[m.Effect]:
        if self.retired:
            return self._forwarder.reply(reply_to, _retired_error(reply_to))
        caller: Caller | None = None
        try:
            check_call(call)
            tx = self.rep.kv.begin()
            match call:
                case m.GovSubmit():
                    pass  # the member's signature authenticates it, inside its transaction
                case m.GovRead():
                    governance_calls.authorise_reader(tx, caller_cert_der)
                case _:
                    caller = Caller(authorise_user(tx, caller_cert_der))
                    if read_service_status(tx) is not ServiceStatus.OPEN:
                        reason = "the service is not open to users yet"
                        raise CallRefused(m.ErrorCode.SERVICE_NOT_OPEN, reason)
            reads = _only_reads(call)
        except CallRefused as refused:
            return self._forwarder.reply(reply_to, refused.as_error())
        match call:
            case m.GetTxStatus():
                status = tx_status(call.txid, self.rep.writer, self.rep.ledger_commit)
                return self._forwarder.reply(reply_to, m.TxStatusResult(call.txid, status))
            case m.GetReceipt():
                return self._forwarder.reply(reply_to, self._receipt(call.txid))
            case m.Get() | m.Scan() if call.consistency is m.Consistency.LOCAL:
                return self._forwarder.reply(
                    reply_to, read(self.rep.kv.begin_committed(), call, self._commit_txid())
                )
            case _:
                pass
        if not self.rep.can_propose():
            return self._forwarder.forward_call(self._leader_to_forward_to(), reply_to, caller_cert_der, call)
        request = _Request(reply_to, call, caller)
        if not reads:
            batch.append(request)
            return []
        self._reads_to_index.append(request)
        return []

    def _index_reads(self) -> list[m.Effect]:
        """One read-index round for the reads waiting (etcd's batching of ReadIndex): the index is taken
        after every one of them arrived, so serving them at or after it is linearizable for each. While a
        round is in flight they wait for the next one (etcd's `linearizableReadLoop`): a round per drain
        cost a heartbeat and its answer from every follower for about one read each under load. A node
        that stopped leading meanwhile refuses them, unread."""
        if not self._reads_to_index or self._read_round_in_flight():
            return []
        requests, self._reads_to_index = self._reads_to_index, []
        if not self.rep.can_propose():
            return self._refuse_unexecuted(requests)
        context = self._forwarder.new_id().to_bytes(8, "big")
        self._reads[context] = _PendingReads(requests, self.rep.raft.term)
        self.rep.raft.read_index(context)
        return []

    def _read_round_in_flight(self) -> bool:
        """Whether this leader awaits a read-index round it asked in its current term (an older round
        ends only by expiring: Raft dropped it when the term or role changed)."""
        term = self.rep.raft.term
        return self.rep.can_propose() and any(pending.term == term for pending in self._reads.values())

    def _refuse_unexecuted(self, requests: list[_Request]) -> list[m.Effect]:
        """Requests taken while this node led, refused because it no longer does: nothing of them ran,
        so the caller may retry anywhere."""
        error = m.CallError(m.ErrorCode.NO_PRIMARY, "this node stopped being the primary; retry")
        return [effect for request in requests for effect in self._forwarder.reply(request.reply_to, error)]

    def _serve_read(self, request: _Request) -> m.CallResult:
        """A read of the committed state (after read-index confirmed this node may serve it)."""
        tx = self.rep.kv.begin_committed()
        call = request.call
        try:
            match call:
                case m.Get() | m.Scan():
                    return read(tx, call, self._commit_txid())
                case m.GovRead():
                    rows = governance_calls.read_table(tx, call)
                    return m.GovernanceRows(json.dumps(rows, sort_keys=True), self._commit_txid())
                case m.CallProcedure():
                    assert request.caller is not None
                    result = registry.run(tx, call.name, call.args, request.caller)
                    return m.ProcedureResult(self._commit_txid(), m.TxStatus.COMMITTED, result)
                case _:
                    raise AssertionError(f"{type(call).__name__} is not a read")
        except CallRefused as refused:
            return refused.as_error()
        except ProcedureError as failed:
            return procedure_error(failed)

    def _receipt(self, txid: m.TxRef) -> m.CallResult:
        status = tx_status(txid, self.rep.writer, self.rep.ledger_commit)
        if status is m.TxStatus.INVALID:
            return m.CallError(m.ErrorCode.TX_INVALID, f"{txid.view}.{txid.seqno} will never commit")
        if status is not m.TxStatus.COMMITTED:
            return m.CallError(m.ErrorCode.NOT_COMMITTED, f"{txid.view}.{txid.seqno} is {status.value}")
        try:
            receipt = self.rep.writer.receipt(txid.seqno)
        except LedgerWriterError as exc:
            return m.CallError(m.ErrorCode.NOT_COMMITTED, str(exc))
        return m.ReceiptResult(json.dumps(receipt.to_json(), sort_keys=True))

    def _execute_writes(self, batch: list[_Request]) -> list[m.Effect]:
        """CCF: execute on the primary's KV, append to the ledger; one Raft proposal for the batch.
        A governance request is answered once committed, like a write waiting for commit. Writes taken
        while this node could propose but executed after other frames (`peer_messages`) may find it no
        longer primary: they are refused unexecuted, and the caller retries."""
        if not batch:
            return []
        if not self.rep.can_propose():
            return self._refuse_unexecuted(batch)
        effects: list[m.Effect] = []
        appended = []
        for request in batch:
            reply_to, call = request.reply_to, request.call
            assert isinstance(call, _Write)
            try:
                executed = self._execute_write(request)
            except TooManyConflicts as exc:
                effects += self._forwarder.reply(reply_to, m.CallError(m.ErrorCode.NOT_READY, str(exc)))
                continue
            except RequestRefused as refused:
                effects += self._forwarder.reply(reply_to, governance_calls.refusal_error(refused))
                continue
            except CallRefused as refused:  # a conditional put whose key moved on
                effects += self._forwarder.reply(reply_to, refused.as_error())
                continue
            except ProcedureError as failed:
                effects += self._forwarder.reply(reply_to, procedure_error(failed))
                continue
            result = executed.result
            assert isinstance(result, Committed)
            entry = self.rep.append_local(result.write_set, result.version)
            appended.append(entry)
            txid = m.TxRef(entry.txid.view, entry.txid.seqno)
            waiter = CommitWaiter(reply_to, txid, outcome=executed.value)
            if isinstance(call, m.GovSubmit) or call.wait_for_commit:
                self._waiters[txid.seqno].append(waiter)
            else:
                effects += self._forwarder.reply(reply_to, waiter.result(m.TxStatus.PENDING))
        self.rep.propose_batch(appended)
        self.rep.maybe_sign(self._now_ms)
        return effects

    def _execute_write(self, request: _Request) -> Executed[WriteOutcome]:
        """Runs one write in its own transaction; a governance request or procedure says what it did."""
        call = request.call
        match call:
            case m.GovSubmit():
                submit = functools.partial(
                    governance_calls.submit,
                    signed=call.signed,
                    now_s=self._now_ms // 1000,
                    recovery=RecoveryContext(
                        self._inherited_ledger,
                        lambda: self.secrets.ledger_secrets.versions()[-1][1],
                        self._random_bytes,
                    ),
                )
                return execute(self.rep.kv, submit)
            case m.CallProcedure():
                assert request.caller is not None
                run = functools.partial(
                    registry.run, name=call.name, raw_args=call.args, caller=request.caller
                )
                return execute(self.rep.kv, run)
            case m.Put() | m.Delete():
                return execute(self.rep.kv, functools.partial(apply_write, call=call))
            case _:
                raise AssertionError(f"{type(call).__name__} is not a write")

    # -- forwarding --------------------------------------------------------------------------------

    def _leader_to_forward_to(self) -> NodeId | None:
        leader = self.rep.raft.leader
        return None if leader is None or leader == self.rep.raft.id else NodeId(leader)

    def _on_received(self, item: Received, writes: list[_Request]) -> list[m.Effect]:
        if item.kind is PayloadKind.RAFT:
            message = peer_wire.decode_raft(item.payload)
            if message.src != str(item.peer) or message.dst != self.rep.raft.id:
                raise PeerRejected(
                    f"a Raft message from {message.src} to {message.dst} on {item.peer}'s channel"
                )
            if isinstance(message, InstallSnapshot):
                try:
                    self.rep.check_offer(message)
                except SnapshotRejected as rejected:
                    return [m.Log(m.LogLevel.ERROR, f"snapshot from {item.peer} refused: {rejected}")]
            self.rep.raft.step(message)
            return []
        forward = peer_wire.decode_forward(item.payload)
        if isinstance(forward, ForwardBatch):
            return [e for one in forward.messages for e in self._on_forward(item.peer, one, writes)]
        return self._on_forward(item.peer, forward, writes)

    def _on_forward(
        self, peer: NodeId, forward: peer_wire.OneForward, writes: list[_Request]
    ) -> list[m.Effect]:
        match forward:
            case ForwardCall():
                reply_to = Forwarded(peer, forward.forward_id)
                return self._client_call(reply_to, forward.caller_cert_der, forward.call, writes)
            case ForwardJoin():
                return self._join(Forwarded(peer, forward.forward_id), forward.request)
            case ForwardedResult() | ForwardedJoinResponse():
                return self._forwarder.answered(forward)

    def _expire(self) -> list[m.Effect]:
        """Forwards and reads unanswered for too long (the primary changed or the messages were lost)."""
        effects = self._forwarder.expire()
        lost = m.CallError(m.ErrorCode.NO_PRIMARY, "leadership lost; retry")
        for context, reads in list(self._reads.items()):
            reads.age += 1
            if reads.age >= self._timeout_ticks:
                del self._reads[context]
                for request in reads.requests:
                    effects += self._forwarder.reply(request.reply_to, lost)
        return effects

    # -- joins (service side) ----------------------------------------------------------------------

    def _join(self, reply_to: ReplyTo, data: bytes) -> list[m.Effect]:
        if self.retired:
            return self._forwarder.reply_join(reply_to, pending_join("this node is Retired; ask another"))
        if not self.rep.can_propose():
            return self._forwarder.forward_join(self._leader_to_forward_to(), reply_to, data)
        now = at_ms(self._now_ms)
        kv = self.rep.kv
        try:
            tx = kv.begin()
            allowed = {platform: allowed_measurements(tx, platform) for platform in PlatformName}
            joiner = verify_join_request(data, self._roots, allowed, now)
        except JoinRefused as refused:
            return self._forwarder.reply_join(
                reply_to, join_wire.encode(join_wire.JoinRejected(str(refused)))
            )
        committed = read_node(kv.begin_committed(), joiner.node_id)
        if committed is not None and committed.status is NodeStatus.TRUSTED:
            cert_pem = kv.begin_committed().get(ENDORSED_NODE_CERTIFICATES, joiner.node_id.encode())
            assert cert_pem is not None, f"trusted node {joiner.node_id} without an endorsed certificate"
            return self._forwarder.reply_join(reply_to, self._accepted(joiner, cert_pem.decode()))
        recorded = read_node(kv.begin(), joiner.node_id)
        if recorded is not None and recorded.status is NodeStatus.RETIRED:
            rejected = join_wire.JoinRejected(f"node {joiner.node_id} was removed from the service")
            return self._forwarder.reply_join(reply_to, join_wire.encode(rejected))
        if recorded is not None:
            return self._forwarder.reply_join(
                reply_to, pending_join(f"node {joiner.node_id} is recorded, not trusted yet")
            )
        return self._record_joiner(reply_to, joiner, now)

    def _record_joiner(self, reply_to: ReplyTo, joiner: VerifiedJoin, now: datetime) -> list[m.Effect]:
        """CCF: a node joining before the service opens is trusted at once; later it is Pending."""
        cert_pem = endorse_joiner(joiner, self.secrets.service, now)
        request = joiner.request

        def record(tx: Transaction) -> NodeStatus:
            opening = read_service_status(tx) in _NOT_YET_OPEN
            status = NodeStatus.TRUSTED if opening else NodeStatus.PENDING
            data = node_data(request.peer_address, request.client_address)
            for map_name, writes in endorsed_node_writes(joiner.public_key, cert_pem, status, data).items():
                for key, value in writes.writes.items():
                    tx.put(map_name, key, value)
            return status

        executed = execute(self.rep.kv, record)
        result = executed.result
        assert isinstance(result, Committed)
        entry = self.rep.append_local(result.write_set, result.version)
        self.rep.propose_batch([entry])
        self.rep.sign(self._now_ms)
        txid = m.TxRef(entry.txid.view, entry.txid.seqno)
        if executed.value is NodeStatus.TRUSTED:
            answer = self._accepted(joiner, cert_pem)
        else:
            answer = pending_join(f"node {joiner.node_id} is Pending: members must trust it")
        self._waiters[txid.seqno].append(CommitWaiter(reply_to, txid, answer))
        return []

    def _accepted(self, joiner: VerifiedJoin, cert_pem: str) -> bytes:
        return accepted_response(
            joiner,
            cert_pem,
            responder=self.secrets.node,
            responder_peer_address=self._addresses.peer,
            service=self.secrets.service,
            ledger_secrets=self.secrets.ledger_secrets,
            genesis_node_id=self.secrets.genesis_node_id,
            platform=self._platform,
            random_bytes=self._random_bytes,
        )

    # -- membership (primary) ----------------------------------------------------------------------

    def _manage_membership(self) -> None:
        """Propose the next membership change (membership.py), if any; Raft may still refuse it."""
        change = next_membership_change(self.rep.raft, read_nodes(self.rep.kv.begin_committed()))
        if change is None:
            return
        write_set = membership_write_set(change)

        def write(tx: Transaction) -> None:
            for map_name, writes in write_set.maps.items():
                for key, value in writes.writes.items():
                    tx.put(map_name, key, value)

        result = execute(self.rep.kv, write).result
        assert isinstance(result, Committed)
        with contextlib.suppress(ConfChangeRefusedError, InvalidConfChangeError):
            self.rep.propose_membership(change, result.write_set, result.version)

    def _rekey_if_requested(self) -> None:
        """Carry out a rekey governance asked for (rekey.py): the new secret applies after its entry."""
        request = pending_request(self.rep.kv.begin())
        if request is None:
            return
        applies_from = self.rep.kv.version + 2
        run = functools.partial(
            rekey,
            request_key=request,
            previous=self.secrets.ledger_secrets.versions()[-1],
            applies_from=applies_from,
            random_bytes=self._random_bytes,
        )
        executed = execute(self.rep.kv, run)
        result = executed.result
        assert isinstance(result, Committed) and result.version + 1 == applies_from
        entry = self.rep.append_local(result.write_set, result.version)
        self.secrets.ledger_secrets.add(applies_from, executed.value)
        self.rep.propose_batch([entry])
        self.rep.sign(self._now_ms)

    def _inherited_ledger(self) -> list[bytes]:
        """The ledger this service inherited in a disaster recovery (none otherwise)."""
        return self.rep.raw_entries(recovered_at(self.rep.kv))

    def _reissue_shares_if_stale(self) -> None:
        """Recovery shares follow the recovery members, the threshold and the latest secret."""
        if not shares_are_stale(self.rep.kv.begin(), self.secrets.ledger_secrets):
            return
        run = functools.partial(reissue, secrets=self.secrets.ledger_secrets, random_bytes=self._random_bytes)
        result = execute(self.rep.kv, run).result
        assert isinstance(result, Committed)
        self.rep.propose_batch([self.rep.append_local(result.write_set, result.version)])

    # -- the Ready loop and what follows it --------------------------------------------------------

    def _send_raft(self, message: Message) -> list[m.Effect]:
        return self.peers.send(NodeId(message.dst), PayloadKind.RAFT, peer_wire.encode(message))

    def drain(self) -> list[m.Effect]:
        effects = self._drain_once()
        # The round that held reads back ended in this drain: they get theirs now, not at the next input.
        while self._reads_to_index and not self._read_round_in_flight():
            effects += self._drain_once()
        return effects + self._forwarder.flush()

    def _drain_once(self) -> list[m.Effect]:
        refused = self._index_reads()
        outcome = self.rep.drain(self._send_raft, self._now_ms)
        effects = refused + outcome.effects
        if outcome.truncated_to is not None:
            effects += self._answer_truncated(outcome.truncated_to)
        if outcome.committed_to is not None:
            effects += self._answer_committed(outcome.committed_to)
            self._note_removals()
        if self.retired and self.rep.raft.role is not Role.LEADER and self._waiters:
            # Removed from Raft, this node learns no more commits: answer with what it knows (Pending
            # writes may still commit; the caller asks another node for their status).
            effects += self._answer_committed(max(self._waiters))
        for read_state in outcome.read_states:
            pending = self._reads.pop(read_state.context, None)
            for request in pending.requests if pending is not None else ():
                effects += self._forwarder.reply(request.reply_to, self._serve_read(request))
        if outcome.nodes_changed or outcome.committed_to is not None or outcome.truncated_to is not None:
            effects += self.peer_addresses()
        if outcome.committed_to is not None or outcome.truncated_to is not None:
            effects += self.client_certificates()
        return effects

    def _note_removals(self) -> None:
        """After a commit: is this node's retirement committed, and whose removal is?"""
        committed = self.rep.kv.begin_committed()
        own = read_node(committed, self.node_id)
        self.retired = self.retired or (own is not None and own.status is NodeStatus.RETIRED)
        removed = removed_nodes(self.rep.raft, read_nodes(committed)) - {self.node_id} - self._removed
        for node_id in sorted(removed):
            self.peers.remove(NodeId(node_id))
        self._removed |= removed

    def _answer_truncated(self, keep: int) -> list[m.Effect]:
        effects: list[m.Effect] = []
        for seqno in sorted(s for s in self._waiters if s > keep):
            for waiter in self._waiters.pop(seqno):
                if waiter.join_response is None:
                    effects += self._forwarder.reply(waiter.reply_to, waiter.result(m.TxStatus.INVALID))
                else:
                    effects += self._forwarder.reply_join(
                        waiter.reply_to, pending_join("the join was rolled back; retry")
                    )
        return effects

    def _answer_committed(self, through: int) -> list[m.Effect]:
        """Answer the waiters up to seqno `through` with their status at the ledger commit."""
        effects: list[m.Effect] = []
        for seqno in sorted(s for s in self._waiters if s <= through):
            for waiter in self._waiters.pop(seqno):
                status = tx_status(waiter.txid, self.rep.writer, self.rep.ledger_commit)
                if waiter.join_response is None:
                    effects += self._forwarder.reply(waiter.reply_to, waiter.result(status))
                elif status is m.TxStatus.COMMITTED:
                    effects += self._forwarder.reply_join(waiter.reply_to, waiter.join_response)
                else:
                    effects += self._forwarder.reply_join(
                        waiter.reply_to, pending_join("the join did not commit here; retry")
                    )
        return effects

    def peer_addresses(self) -> list[m.Effect]:
        """`PeerAddresses` if where the other nodes listen changed (from `public:ccf.gov.nodes.info`)."""
        known = {
            record.node_id: record.peer_address
            for record in read_nodes(self.rep.kv.begin())
            if record.node_id != self.node_id and record.peer_address
        }
        for peer in self.bootstrap_peers:
            known.setdefault(peer.node_id, peer.address)
        peers = tuple(
            m.PeerAddress(node_id, address)
            for node_id, address in sorted(known.items())
            if node_id not in self._removed
        )
        if peers == self._known_peers:
            return []
        self._known_peers = peers
        return [m.PeerAddresses(peers)]

    def client_certificates(self) -> list[m.Effect]:
        """`ClientCertificates` if the users or members changed: the state authorisation reads."""
        pems = client_certificate_pems(self.rep.kv.begin())
        if pems == self._client_certs:
            return []
        self._client_certs = pems
        return [m.ClientCertificates(pems)]

    def _commit_txid(self) -> m.TxRef:
        commit = self.rep.ledger_commit
        return m.TxRef(self.rep.writer.view_at(commit), commit)


def _status_text(status: ServiceStatus | None) -> str | None:
    return None if status is None else status.value


# CCF: before the service opens (for the first time, or again after a recovery) joiners are trusted at once.
_NOT_YET_OPEN = frozenset(
    {ServiceStatus.OPENING, ServiceStatus.RECOVERING, ServiceStatus.WAITING_FOR_RECOVERY_SHARES}
)


def _only_reads(call: m.ClientCall) -> bool:
    """Whether `call` is served like a linearizable read (`CallRefused` for an unknown procedure)."""
    if isinstance(call, m.CallProcedure):
        try:
            return registry.find(call.name).read_only
        except ProcedureError as unknown:
            raise CallRefused(m.ErrorCode.PROCEDURE_FAILED, f"{unknown.code}: {unknown}") from None
    return not isinstance(call, _Write)


def procedure_error(failed: ProcedureError) -> m.CallError:
    return m.CallError(m.ErrorCode.PROCEDURE_FAILED, f"{failed.code}: {failed}")


def _retired_error(reply_to: ReplyTo) -> m.CallError:
    """A retired node serves nobody: its own clients go elsewhere; a follower that forwarded to it (a
    retiring primary) retries once the next primary is elected."""
    if isinstance(reply_to, Forwarded):
        return m.CallError(m.ErrorCode.NO_PRIMARY, "the primary is retiring; retry")
    return m.CallError(m.ErrorCode.NODE_RETIRED, "this node is Retired from the service; use another node")
