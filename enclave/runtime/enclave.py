"""The enclave: `Enclave.handle(input) -> effects` is the only entry point from the host (DESIGN.md 3).

It owns the node's identity, the ledger secrets, the KV store, the ledger writer, Raft and the channels,
and is deterministic: the same inputs and the same injected randomness give the same effects. Bad input
from the host, a peer or a client is answered by an effect (a `Log`, or an error answer) and changes
nothing; a violated internal invariant raises.

Dispatch by lifecycle state (lifecycle.py): before it is part of a network a node only starts, joins or
restarts; while joining it (re)sends its join request every `join_retry_ticks` ticks until a response
verifies; then `running.RunningNode` handles everything, and once it reports this node's retirement
committed the node is Retired (it still answers, with refusals, and a retired primary hands over).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from cryptography import x509

from enclave.crypto.certs import CertificateFormatError, load_certificate_pem
from enclave.crypto.ids import node_id_of
from enclave.crypto.keys import MIN_ENTROPY_BYTES, IdentityKey, identity_key_from_entropy
from enclave.platform.api import Measurement, Platform, PlatformName, RandomBytes
from enclave.runtime import join_wire
from enclave.runtime import messages as m
from enclave.runtime.bootstrap import Environment, check_settings, genesis, joined, recover, restart
from enclave.runtime.errors import JoinRefused, RejectedInput, WrongLifecycleState
from enclave.runtime.join import JOIN_NONCE_SIZE, join_request, verify_join_response
from enclave.runtime.lifecycle import Lifecycle
from enclave.runtime.running import RunningNode, at_ms

S = m.LifecycleState


@dataclass(slots=True)
class _Joining:
    """A join in progress: the key this node will be known by, and the request to resend."""

    join: m.JoinNetwork
    key: IdentityKey
    nonce: bytes
    request: bytes
    service_cert: x509.Certificate
    now_ms: int
    ticks_since_sent: int = 0


class Enclave:
    __slots__ = ("_env", "_joining", "_lifecycle", "_node")

    def __init__(
        self,
        platform: Platform,
        random_bytes: RandomBytes,
        vendor_roots: Mapping[PlatformName, x509.Certificate],
    ) -> None:
        self._env = Environment(platform, random_bytes, vendor_roots)
        self._lifecycle = Lifecycle()
        self._joining: _Joining | None = None
        self._node: RunningNode | None = None

    @property
    def state(self) -> m.LifecycleState:
        return self._lifecycle.state

    @property
    def node(self) -> RunningNode | None:
        """The running node once part of a network (for simulations' invariant checks)."""
        return self._node

    def handle(self, message: m.HostInput) -> list[m.Effect]:
        try:
            effects = self._dispatch(message)
        except RejectedInput as exc:
            # A refused start leaves the node serving nobody until an operator acts: an error, not noise.
            starting = isinstance(message, m.StartNetwork | m.JoinNetwork | m.Restart | m.RecoverNetwork)
            level = m.LogLevel.ERROR if starting else m.LogLevel.WARNING
            return [m.Log(level, f"refused {type(message).__name__}: {type(exc).__name__}: {exc}")]
        if self._node is not None and self._node.retired and self.state is S.TRUSTED:
            self._lifecycle.move(S.RETIRED)
            effects.append(m.Log(m.LogLevel.INFO, "this node's retirement is committed: it is Retired"))
        return effects

    def _dispatch(self, message: m.HostInput) -> list[m.Effect]:
        match message:
            case m.StartNetwork():
                self._lifecycle.require(S.UNINITIALIZED, doing="start a network")
                check_settings(message.settings)
                node, effects = genesis(self._env, message)
                return self._become_part_of_network(node, effects)
            case m.RecoverNetwork():
                self._lifecycle.require(S.UNINITIALIZED, doing="recover a network")
                check_settings(message.settings)
                node, effects = recover(self._env, message)
                return self._become_part_of_network(node, effects)
            case m.Restart():
                self._lifecycle.require(S.UNINITIALIZED, doing="restart")
                check_settings(message.settings)
                node, effects = restart(self._env, message)
                return self._become_part_of_network(node, effects)
            case m.JoinNetwork():
                self._lifecycle.require(S.UNINITIALIZED, doing="join a network")
                check_settings(message.settings)
                return self._start_join(message)
            case m.JoinResponseReceived():
                self._lifecycle.require(S.JOINING, S.PENDING, doing="take a join response")
                return self._join_response(message.response)
            case m.Tick():
                return self._tick(message.now_ms)
            case m.NodeStatusQuery():
                return [self._status(message.request_id)]
            case m.JoinRequestReceived():
                if self._node is None:
                    pending = join_wire.encode(
                        join_wire.JoinPending("this node is not part of a network yet")
                    )
                    return [m.RespondToJoin(message.request_id, pending)]
                return self._node.join_request(message.request_id, message.request)
            case m.ClientRequest() | m.ClientRequestBatch():
                requests = [message] if isinstance(message, m.ClientRequest) else list(message.requests)
                if self._node is None:
                    return [_not_ready(request.request_id) for request in requests]
                return self._node.client_requests(requests)
            case m.PeerMessage():
                if self._node is None:
                    raise WrongLifecycleState(f"a peer frame while {self.state.value}")
                return self._node.peer_message(message.from_node_id, message.frame)
            case m.PeerMessageBatch():
                if self._node is None:
                    raise WrongLifecycleState(f"peer frames while {self.state.value}")
                return self._node.peer_messages(message.messages)
            case _:
                assert_never(message)

    def _become_part_of_network(self, node: RunningNode, effects: list[m.Effect]) -> list[m.Effect]:
        self._node = node
        self._joining = None
        self._lifecycle.move(S.TRUSTED)
        return effects + node.client_certificates() + node.drain()

    def _tick(self, now_ms: int) -> list[m.Effect]:
        if self._node is not None:
            return self._node.tick(now_ms)
        joining = self._joining
        if joining is None:
            return []
        joining.now_ms = now_ms
        joining.ticks_since_sent += 1
        if joining.ticks_since_sent < joining.join.settings.join_retry_ticks:
            return []
        joining.ticks_since_sent = 0
        return [m.SendJoinRequest(joining.join.target_address, joining.request)]

    # -- joining (DESIGN.md 4.3, joiner side) --------------------------------------------------------

    def _start_join(self, join: m.JoinNetwork) -> list[m.Effect]:
        try:
            service_cert = load_certificate_pem(join.service_cert_pem.encode())
        except CertificateFormatError as exc:
            raise WrongLifecycleState(f"the expected service certificate does not parse: {exc}") from None
        random_bytes = self._env.random_bytes
        key = identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES))
        nonce = random_bytes(JOIN_NONCE_SIZE)
        try:
            request = join_request(key, self._env.platform, join.addresses.peer, join.addresses.client, nonce)
        except JoinRefused as exc:
            raise WrongLifecycleState(str(exc)) from None
        self._joining = _Joining(join, key, nonce, request, service_cert, join.now_ms)
        self._lifecycle.move(S.JOINING)
        return [m.SendJoinRequest(join.target_address, request)]

    def _join_response(self, data: bytes) -> list[m.Effect]:
        joining = self._joining
        assert joining is not None, "joining without a join in progress"
        response = join_wire.decode_response(data)
        match response:
            case join_wire.JoinPending():
                if self.state is S.JOINING:
                    self._lifecycle.move(S.PENDING)
                return [m.Log(m.LogLevel.INFO, f"join pending: {response.reason}")]
            case join_wire.JoinRejected():
                raise JoinRefused(f"the service refused the join: {response.reason}")
            case join_wire.JoinAccepted():
                service = verify_join_response(
                    response,
                    key=joining.key,
                    nonce=joining.nonce,
                    expected_service_cert=joining.service_cert,
                    roots=self._env.vendor_roots,
                    measurements=frozenset(
                        {
                            self._env.platform.measurement,
                            *(Measurement(value) for value in joining.join.service_measurements),
                        }
                    ),
                    at=at_ms(joining.now_ms),
                )
                node, effects = joined(self._env, joining.join, service)
                return self._become_part_of_network(node, effects)
            case _:
                assert_never(response)

    def _status(self, request_id: int) -> m.NodeStatusReport:
        if self._node is not None:
            return self._node.status(request_id, self.state)
        # A joiner is already known by its key's id: members name it to trust a Pending node.
        node_id = None if self._joining is None else node_id_of(self._joining.key.public_key())
        zero = m.TxRef(0, 0)
        return m.NodeStatusReport(request_id, node_id, self.state, None, 0, zero, zero, None, None)


def _not_ready(request_id: int) -> m.RespondToClient:
    error = m.CallError(m.ErrorCode.NOT_READY, "this node is not part of a network yet; retry")
    return m.RespondToClient(request_id, error)
