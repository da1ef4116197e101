"""The untrusted host of one node: feeds the enclave its inputs and carries out its effects, in order.

CCF's host (`src/host`): one event loop per node process. Inputs reach the enclave from the ticker (a
`Tick` every `tick_interval_ms`), the gRPC servers (client calls, peer frames, join requests, operator
actions) and the host's own outgoing calls (join responses). Every input crosses the byte boundary
(`EnclaveBoundary.handle`, as an ECALL would), one at a time, so the enclave sees one totally ordered
history; the effects that come back are carried out in order (a group's at its end, below) before the
next group of inputs is fed.

Durability: ledger appends and Raft state go to the OS at once and reach the disk at `Flush` (on the
host's flush thread while the event loop keeps queueing inputs); effects after a `Flush` are carried out
only once it has completed, which is what makes sending an acknowledgement after a `Flush` safe
(consensus/ready.py). Group commit: every input queued when the enclave is free is handed to it in one
go, and the `Flush`es of their effects become one fsync (`plan_group_commit`), so a node under load pays
one fsync per group, not one per input. Sealed secrets are fsynced when written. LMDB batches are queued
to the state store's own writer thread in order.

Secrets: the host holds the node's TLS key (`TlsIdentity`) in memory for its gRPC servers and channels and
writes it nowhere; every other secret reaches it only sealed or encrypted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, assert_never

import grpc
from cryptography import x509

from enclave.crypto.certs import certificate_public_key
from enclave.crypto.ids import node_id_of
from enclave.runtime import boundary
from enclave.runtime import messages as m
from node.config import NodeConfig, NodeMode
from node.files import PRIVATE_MODE, PUBLIC_MODE, write_atomically
from node.ledger_files import LedgerFiles
from node.metrics import NodeMetrics
from node.node_log import log_event
from node.raft_state_file import RaftStateFile
from node.rpc.peer_links import PeerLinks
from node.rpc.servers import BoundPorts, NodeServers
from node.rpc.tls import ClientRoot, channel_credentials, client_roots, roots_valid_at
from node.snapshot_files import SnapshotFiles
from node.state_store import StateStore
from proto.sealchain.v1 import node_pb2, node_pb2_grpc

log = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 5.0
# A client call the enclave has not answered by then gets a retryable error: the node may have lost its
# primary while the call waited for commit. The enclave's answer, if it comes later, is dropped.
CALL_TIMEOUT_SECONDS = 30.0
_LOG_LEVELS = {
    m.LogLevel.DEBUG: logging.DEBUG,
    m.LogLevel.INFO: logging.INFO,
    m.LogLevel.WARNING: logging.WARNING,
    m.LogLevel.ERROR: logging.ERROR,
}


# Effects that only change what the OS holds for the files a Flush syncs: carried out at once, even after a
# Flush in the same group, since the group's fsync makes them durable before anything after it is seen.
# A snapshot install is one of them: it replaces the ledger the appends after it continue (and syncs the
# snapshot file itself).
_STORAGE_EFFECTS = (m.AppendLedger, m.TruncateLedger, m.SnapshotInstalled, m.PersistRaftState)


@dataclass(frozen=True, slots=True)
class GroupCommitPlan:
    """How to carry out the effects of a group of inputs: `at_once` (in order), then one fsync if
    `needs_fsync`, then `after_fsync` (in order)."""

    at_once: tuple[m.Effect, ...]
    needs_fsync: bool
    after_fsync: tuple[m.Effect, ...]


def plan_group_commit(effects: Iterable[m.Effect]) -> GroupCommitPlan:
    """Group commit (DESIGN.md section 9): the effects of several inputs, in order, with their Flushes
    made one. Every effect before the first Flush is carried out at once, and so is every storage write
    (they reach the disk with the fsync, which is more durable, never less); every other effect after a
    Flush waits for the one fsync, so nothing that a Flush guarded is seen before the disk has it."""
    at_once: list[m.Effect] = []
    after_fsync: list[m.Effect] = []
    flushed = False
    for effect in effects:
        if isinstance(effect, m.Flush):
            flushed = True
        elif flushed and not isinstance(effect, _STORAGE_EFFECTS):
            after_fsync.append(effect)
        else:
            at_once.append(effect)
    return GroupCommitPlan(tuple(at_once), flushed, tuple(after_fsync))


def batch_inputs(inputs: Sequence[m.HostInput]) -> list[m.HostInput]:
    """DESIGN.md section 9: the client requests of a group go to the enclave as one batch (one proposal,
    so one AppendEntries per follower and one signature window), and so do its peer frames (one Raft
    round for all, and one proposal for the writes forwarded in them), each batch where the first of
    its inputs was queued; every other input keeps its place. Moving an input ahead of inputs queued
    before it is safe: they arrived concurrently, and nothing in the group can depend on it, since no
    answer leaves the node before the group's effects are carried out. Frames keep their order."""
    batched = _batched(inputs, m.ClientRequest, m.ClientRequestBatch)
    return _batched(batched, m.PeerMessage, m.PeerMessageBatch)


def _batched(
    inputs: Sequence[m.HostInput], kind: type[Any], batch: Callable[[tuple[Any, ...]], m.HostInput]
) -> list[m.HostInput]:
    members = tuple(message for message in inputs if isinstance(message, kind))
    if len(members) < 2:
        return list(inputs)
    first = next(i for i, message in enumerate(inputs) if isinstance(message, kind))
    others = [message for message in inputs[first:] if not isinstance(message, kind)]
    return [*inputs[:first], batch(members), *others]


class Boundary(Protocol):
    """The enclave as the host sees it: bytes in, bytes out (`enclave.runtime.boundary.EnclaveBoundary`)."""

    def handle(self, input_bytes: bytes) -> bytes: ...


class StartupError(Exception):
    """The node cannot start from this configuration and these files; the message says why."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Host:
    """One node's host: owns the ledger files, the state store, the Raft state file, the servers and the
    peer links, and is the only caller of the enclave."""

    def __init__(self, config: NodeConfig, enclave: Boundary, clock_ms: Callable[[], int] = now_ms) -> None:
        self.config = config
        self._enclave = enclave
        self._clock_ms = clock_ms
        self.raft_state = RaftStateFile(config.path(config.raft_state))
        # What the Raft state file held at start-up (read once: the restart hands it to the enclave).
        self._persisted_raft_state = self.raft_state.load()
        self.ledger = LedgerFiles(
            config.path(config.ledger_dir),
            fsync=config.consensus.fsync,
            committed_hint=0 if self._persisted_raft_state is None else self._persisted_raft_state.commit,
        )
        self.state_store = StateStore(config.path(config.state_dir))
        self.snapshots = SnapshotFiles(config.path(config.snapshots_dir))
        self.peers = PeerLinks()
        self._queue: collections.deque[m.HostInput] = collections.deque()
        self.metrics = NodeMetrics(
            config.path(config.ledger_dir),
            queued_inputs=lambda: len(self._queue),
            peer_link_errors=lambda: self.peers.link_errors,
            last_seqno=self.ledger.last_seqno,
            committed_seqno=self.ledger.committed_seqno,
        )
        self.servers = NodeServers(self, client_roots=self._client_roots(), metrics=self.metrics.registry)
        self.node_id: str | None = None
        self.stopped = asyncio.Event()
        self.failure: BaseException | None = None
        self._next_request_id = 1
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._queue_ready = asyncio.Event()
        self._closing = False
        self._enclave_task: asyncio.Task[None] | None = None
        # Its own thread: a Flush must never wait for a thread that other work (or a test) holds.
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flush")
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        # The users' and members' certificates the service last named (None: the config's until then).
        self._service_client_roots: tuple[ClientRoot, ...] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> BoundPorts:
        """Listens (recording the ports bound), hands the enclave its first input, starts the ticker."""
        config = self.config
        ports = await self.servers.start(
            config.client.bind,
            config.peer.bind,
            config.operator.bind,
            config.join_api.bind,
            config.metrics.bind,
        )
        self.config = config.with_bound_ports(
            ports.client, ports.peer, ports.operator, ports.join, metrics=ports.metrics
        )
        log_event(
            logging.INFO,
            "listening",
            client=str(self.config.client.advertised),
            peer=str(self.config.peer.advertised),
            join=str(self.config.join_api.advertised),
            operator=str(self.config.operator.bind),
            metrics=str(self.config.metrics.advertised),
        )
        self.feed(self._first_input())
        self._enclave_task = asyncio.create_task(self._run_enclave(), name="enclave")
        self._ticker = asyncio.create_task(self._tick_forever(), name="ticker")
        return ports

    async def close(self) -> None:
        """Stops serving and ticking, then makes everything durable and closes the files."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._enclave_task is not None:
            # Let the input in hand finish (a Flush may be running on a thread), then stop taking more.
            self._closing = True
            self._queue_ready.set()
            await self._enclave_task
        await self.servers.stop(grace_seconds=0.5)
        await self.peers.close()
        for task in list(self._tasks):
            task.cancel()
        for future in self._waiting.values():
            future.cancel()
        self._flusher.shutdown()
        self.raft_state.sync()
        self.ledger.close()
        self.state_store.close()
        log_event(logging.INFO, "stopped")

    def _first_input(self) -> m.HostInput:
        """Restart when this node has sealed secrets; otherwise what the config's mode says."""
        config = self.config
        addresses = m.NodeAddresses(peer=str(config.peer.advertised), client=str(config.client.advertised))
        settings = m.ConsensusSettings(
            election_ticks=config.consensus.election_ticks,
            signature_interval_txs=config.consensus.signature_interval_txs,
            signature_interval_ms=config.consensus.signature_interval_ms,
            snapshot_interval_txs=config.consensus.snapshot_interval_txs,
            max_inflight_appends=config.consensus.max_inflight_appends,
        )
        sealed_secrets = config.path(config.sealed_secrets)
        if sealed_secrets.exists():
            snapshot = self._snapshot_to_restart_from()
            base, last = self.ledger.base, self.ledger.last_seqno
            entries = tuple(self.ledger.read(base + 1, last)) if last > base else ()
            log_event(logging.INFO, "restarting", snapshot_seqno=base or None, ledger_entries=len(entries))
            return m.Restart(
                self._clock_ms(),
                addresses,
                sealed_secrets.read_bytes(),
                self._persisted_raft_state,
                entries,
                settings,
                snapshot,
            )
        match config.mode:
            case NodeMode.START:
                keys = config.identities.member_encryption_keys
                members = tuple(
                    m.MemberInfo(self._read_pem(cert), self._read_pem(keys[i]) if i < len(keys) else None)
                    for i, cert in enumerate(config.identities.members)
                )
                users = tuple(self._read_pem(cert) for cert in config.identities.users)
                log_event(logging.INFO, "starting a new service", members=len(members), users=len(users))
                return m.StartNetwork(self._clock_ms(), addresses, members, users, settings)
            case NodeMode.JOIN:
                assert config.join_target is not None  # the config parser requires it in join mode
                service_cert = self._service_cert_pem()
                if service_cert is None:
                    raise StartupError(f"cannot join: no service certificate at {config.service_cert}")
                log_event(logging.INFO, "joining", target=str(config.join_target))
                return m.JoinNetwork(
                    self._clock_ms(),
                    addresses,
                    str(config.join_target),
                    service_cert.decode(),
                    settings,
                    config.join_service_measurements,
                )
            case NodeMode.RECOVER:
                # DESIGN.md 4.6: the ledger of a service that is gone, copied into this node's ledger dir
                # (a torn last entry was cut when the files were opened).
                last = self.ledger.last_seqno
                if not last:
                    raise StartupError(f"cannot recover: no ledger in {config.path(config.ledger_dir)}")
                log_event(logging.INFO, "recovering a service from its ledger", ledger_entries=last)
                return m.RecoverNetwork(
                    self._clock_ms(), addresses, tuple(self.ledger.read(1, last)), settings
                )
            case _:
                assert_never(config.mode)

    def _snapshot_to_restart_from(self) -> bytes | None:
        """The snapshot a node's ledger files continue; a node holding no ledger file (it installed a
        snapshot and crashed before appending) starts from its newest snapshot, if any."""
        base = self.ledger.base
        if self.ledger.chunk_names():
            if base == 0:
                return None
            found = self.snapshots.at(base)
            if found is None:
                raise StartupError(f"the ledger starts at seqno {base + 1} but no snapshot at {base} is kept")
            return found[1]
        newest = self.snapshots.newest()
        if newest is None:
            return None
        self.ledger.reset(newest[0])  # nothing to remove: this only sets where the ledger continues
        return newest[1]

    def _read_pem(self, path: Path) -> str:
        try:
            return self.config.path(path).read_text()
        except OSError as error:
            raise StartupError(f"cannot read {path}: {error.strerror}") from None

    def _client_roots(self) -> bytes | None:
        """The certificates the client API accepts for mTLS: the configured members' and users'."""
        paths = (*self.config.identities.members, *self.config.identities.users)
        pems = [self._read_pem(path).encode() for path in paths]
        return b"".join(pems) or None

    def _service_cert_pem(self) -> bytes | None:
        try:
            return self.config.path(self.config.service_cert).read_bytes()
        except FileNotFoundError:
            return None

    async def _tick_forever(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.consensus.tick_interval_ms / 1000
        deadline = loop.time()
        while True:
            deadline += interval
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            # After a stall (a busy loop) tick once, not once per missed interval: time is in now_ms.
            deadline = max(deadline, loop.time() - interval)
            self.feed(m.Tick(self._clock_ms()))
            self._apply_client_roots()  # certificates expire and become valid as time passes

    def _apply_client_roots(self) -> None:
        if self._service_client_roots is None:
            return
        now = datetime.fromtimestamp(self._clock_ms() / 1000, tz=UTC)
        if self.servers.client_tls.set_client_roots(roots_valid_at(self._service_client_roots, now)):
            log_event(logging.INFO, "client certificates", count=len(self._service_client_roots))

    # -- the enclave -----------------------------------------------------------------------------

    def feed(self, message: m.HostInput) -> None:
        """Queues an input; the enclave takes them one at a time, in arrival order (`_run_enclave`)."""
        if self.failure is None:
            self._queue.append(message)
            self._queue_ready.set()

    async def _run_enclave(self) -> None:
        """The only caller of the enclave: the inputs queued so far, one at a time, then their effects in
        order (`_handle_group`), then the inputs queued meanwhile. Stops between groups once `close`
        asks."""
        while not self._closing:
            await self._queue_ready.wait()
            self._queue_ready.clear()
            while self._queue and not self._closing:
                try:
                    await self._handle_group()
                except Exception as error:  # a bug, ours or the enclave's: stop rather than go on wrong
                    self.failure = error
                    log.exception("the node stops: carrying out its inputs failed")
                    self.stopped.set()
                    return

    async def _handle_group(self) -> None:
        """The inputs queued now go to the enclave (`batch_inputs`), then their effects are
        carried out as `plan_group_commit` orders them. The fsync runs on a worker thread, so the event
        loop keeps receiving (and queueing) requests while the disk syncs."""
        queued = [self._queue.popleft() for _ in range(len(self._queue))]
        effects: list[m.Effect] = []
        for message in batch_inputs(queued):
            try:
                effects += self._enclave_effects(message)
            except Exception as error:
                error.add_note(f"while the enclave handled {type(message).__name__}")
                raise
        plan = plan_group_commit(effects)
        for effect in plan.at_once:
            self._carry_out(effect)
        if plan.needs_fsync:
            await asyncio.get_running_loop().run_in_executor(self._flusher, self._flush)
            self.metrics.fsynced()
        for effect in plan.after_fsync:
            self._carry_out(effect)

    def _enclave_effects(self, message: m.HostInput) -> list[m.Effect]:
        self.metrics.input_handled(type(message).__name__)
        effects = boundary.decode_effects(self._enclave.handle(boundary.encode_input(message)))
        for effect in effects:
            self.metrics.effect_carried_out(effect)
        return effects

    def _flush(self) -> None:
        """The durability barrier: ledger appends and the Raft state reach the disk (group fsync)."""
        self.ledger.flush()
        self.raft_state.sync()

    def _carry_out(self, effect: m.Effect) -> None:
        match effect:
            case m.AppendLedger(seqno, raw, committable):
                # The enclave truncates first (TruncateLedger); an append out of order is a bug and stops us.
                self.ledger.append(seqno, raw, committable)
            case m.TruncateLedger(keep_up_to_seqno):
                self.ledger.truncate(keep_up_to_seqno)
                log_event(logging.INFO, "ledger truncated", keep_up_to_seqno=keep_up_to_seqno)
            case m.CommitLedger(seqno):
                self.ledger.commit(seqno)
            case m.StoreSnapshot(seqno, evidence_seqno, data):
                self.snapshots.store(seqno, evidence_seqno, data)
                log_event(logging.INFO, "snapshot stored", seqno=seqno, evidence_seqno=evidence_seqno)
            case m.SnapshotInstalled(seqno, evidence_seqno, data):
                self.snapshots.store(seqno, evidence_seqno, data)
                self.ledger.reset(seqno)
                self.state_store.clear()
                log_event(logging.INFO, "started over from a snapshot", seqno=seqno, bytes=len(data))
            case m.PersistRaftState(term, vote, commit):
                self.raft_state.stage(m.RaftHardState(term, vote, commit))
            case m.Flush():
                raise AssertionError("a Flush is carried out by _handle_group, off the event loop")
            case m.SendToPeer(node_id, frame):
                self.peers.send(node_id, frame)
            case m.PeerAddresses(peers):
                addresses = {peer.node_id: peer.address for peer in peers}
                if addresses != self.peers.addresses():
                    log_event(logging.INFO, "peer addresses", peers=addresses)
                self.peers.set_addresses(addresses)
            case m.SendJoinRequest(target_address, request):
                self._spawn(self._send_join_request(target_address, request), "join request")
            case m.RespondToJoin(request_id, response):
                self._resolve(request_id, response)
            case m.RespondToClient(request_id, result):
                self._resolve(request_id, result)
            case m.StoreSealedSecrets(blob):
                write_atomically(self.config.path(self.config.sealed_secrets), blob, PRIVATE_MODE)
                log_event(logging.INFO, "sealed secrets stored", bytes=len(blob))
            case m.MaterialiseState(batch):
                self.state_store.submit(batch)
            case m.TlsIdentity(cert_pem, key_pem):
                self._set_tls_identity(cert_pem.encode(), key_pem.encode())
            case m.ClientCertificates(cert_pems):
                # The client API's mTLS follows the service's users and members (CCF: the enclave
                # decides who is a caller), not the config file's initial list.
                self._service_client_roots = client_roots(cert_pems)
                self._apply_client_roots()
            case m.ServiceCreated(service_cert_pem):
                path = self.config.path(self.config.service_cert)
                if self._service_cert_pem() != service_cert_pem.encode():
                    write_atomically(path, service_cert_pem.encode(), PUBLIC_MODE)
                    log_event(logging.INFO, "service certificate written", path=str(path))
            case m.Log(level, text):
                log_event(_LOG_LEVELS[level], text, source="enclave")
            case m.NodeStatusReport():
                self._resolve(effect.request_id, effect)
            case _:
                assert_never(effect)

    def _set_tls_identity(self, cert_pem: bytes, key_pem: bytes) -> None:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        self.node_id = node_id_of(certificate_public_key(certificate))
        service_cert = self._service_cert_pem()
        assert service_cert is not None, "a TLS identity before the service certificate is known"
        self.servers.set_identity(cert_pem, key_pem, service_cert)
        self._spawn(self.servers.report_client_api_serving(), "client api health")
        self.peers.set_identity(cert_pem, key_pem, service_cert)
        log_event(logging.INFO, "tls identity", node_id=self.node_id)

    # -- requests that the enclave answers later -------------------------------------------------

    def _request_id(self) -> int:
        request_id = self._next_request_id
        self._next_request_id += 1
        return request_id

    def _resolve(self, request_id: int, answer: object) -> None:
        future = self._waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(answer)

    async def _ask(
        self, make_input: Callable[[int], m.HostInput], timeout: float = CALL_TIMEOUT_SECONDS
    ) -> Any:
        request_id = self._request_id()
        return await self._answer_to(request_id, lambda: self.feed(make_input(request_id)), timeout)

    async def _answer_to(self, request_id: int, send: Callable[[], None], timeout: float) -> Any:
        """Sends the request, then waits for the effect that answers `request_id` (`_resolve`)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            send()
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(request_id, None)

    def _spawn(self, coroutine: Any, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_join_request(self, target_address: str, request: bytes) -> None:
        """Asks the service node at `target_address`; a failure needs no report (the enclave resends)."""
        service_cert = self._service_cert_pem()
        if service_cert is None:
            log_event(logging.WARNING, "join request not sent: no service certificate")
            return
        async with grpc.aio.secure_channel(target_address, channel_credentials(service_cert)) as channel:
            stub = node_pb2_grpc.PeerStub(channel)  # type: ignore[no-untyped-call]
            try:
                response = await stub.Join(node_pb2.JoinRequest(body=request), timeout=JOIN_TIMEOUT_SECONDS)
            except grpc.aio.AioRpcError as error:
                # The details say why: unreachable, or a TLS handshake that failed because the target's
                # certificate is not endorsed by the expected service certificate.
                log_event(
                    logging.WARNING,
                    "join request failed",
                    target=target_address,
                    code=error.code().name,
                    details=error.details(),
                )
                return
        self.feed(m.JoinResponseReceived(response.body))

    # -- NodeHandlers (the servers) --------------------------------------------------------------

    async def client_call(self, caller_cert_der: bytes, call: m.ClientCall) -> m.CallResult:
        arrived = time.perf_counter()
        result: m.CallResult
        try:
            result = await self._ask(lambda rid: m.ClientRequest(rid, caller_cert_der, call))
        except TimeoutError:
            result = m.CallError(
                m.ErrorCode.OUTCOME_UNKNOWN,
                "the node did not answer in time: the request may or may not have been executed",
            )
        self.metrics.client_call_answered(call, result, time.perf_counter() - arrived)
        return result

    async def join_request(self, body: bytes) -> bytes:
        response: bytes = await self._ask(lambda rid: m.JoinRequestReceived(rid, body), JOIN_TIMEOUT_SECONDS)
        return response

    def peer_frame(self, from_node_id: str, frame: bytes) -> None:
        self.feed(m.PeerMessage(from_node_id, frame))

    async def node_status(self) -> m.NodeStatusReport:
        report: m.NodeStatusReport = await self._ask(m.NodeStatusQuery)
        return report
