"""The node's servers: client API (mTLS), joins (TLS) and operator API on gRPC (grpc.aio), peer frames
(mTLS, `node.rpc.peer_server`).

The servicers only translate: a request becomes a typed call (`convert`), the host hands it to the enclave
and awaits the enclave's answer, the answer becomes a response or a gRPC error carrying the `ErrorCode`.

- Client: the caller must present a certificate; gRPC checks it against the accepted roots (`ServerTls`)
  and the enclave checks it again against the service's users. `Client.Stream` carries the same calls,
  many at a time (`node.rpc.client_stream`), each checked as its unary twin is.
- Peer: not gRPC (`node.rpc.peer_server`): mutual TLS, both sides presenting service-endorsed
  certificates, carrying length-prefixed frames in the name of the caller's certificate. The enclaves'
  channels then authenticate every frame end to end (DESIGN.md section 5).
- Join (`Peer.Join`, on its own port): TLS with the node's certificate, no client certificate, since a
  joining node has none yet; it can send nothing but join requests there.
- Governance: on the client port (members present their certificates there too); every request that
  changes anything is a member's COSE Sign1 message that the enclave verifies, whoever the TLS caller is.
- Operator: plaintext on a loopback address: status, metrics, gRPC health checking and reflection.
- Metrics (`[metrics]`): plain HTTP `GET /metrics` for Prometheus to scrape, the same text as the
  operator API's `Metrics` call, served by prometheus_client's threaded HTTP server from the node's own
  registry (`node.metrics`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from wsgiref.simple_server import WSGIServer

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from enclave.runtime import messages as m
from node.config import LOOPBACK_ANY_PORT, Address
from node.rpc import convert
from node.rpc.client_stream import serve_stream
from node.rpc.decode_errors import InvalidArgumentOnDecodeError
from node.rpc.peer_server import PeerServer
from node.rpc.tls import ServerTls, caller_certificate_der
from proto.sealchain.v1 import (
    client_pb2,
    client_pb2_grpc,
    common_pb2,
    governance_pb2,
    governance_pb2_grpc,
    node_pb2,
    node_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
)

_Response = TypeVar("_Response", bound=Message)
DEFAULT_WAIT_FOR_COMMIT_MS = 30_000
WAIT_FOR_COMMIT_POLL_SECONDS = 0.005
CLIENT_SERVICE = client_pb2.DESCRIPTOR.services_by_name["Client"].full_name
GOVERNANCE_SERVICE = governance_pb2.DESCRIPTOR.services_by_name["Governance"].full_name
# gRPC binds with SO_REUSEPORT by default: another process could then bind a node's port too and receive
# part of its connections. A node owns its ports; a port in use is a bind error, not a silent share.
SERVER_OPTIONS = (("grpc.so_reuseport", 0),)


class NodeHandlers(Protocol):
    """What the servers need from the host: each call goes to the enclave, each answer comes back."""

    async def client_call(self, caller_cert_der: bytes, call: m.ClientCall) -> m.CallResult: ...

    async def join_request(self, body: bytes) -> bytes: ...

    def peer_frame(self, from_node_id: str, frame: bytes) -> None: ...  # see `PeerServer`

    async def node_status(self) -> m.NodeStatusReport: ...


async def _answer(
    context: grpc.aio.ServicerContext,
    result: Awaitable[m.CallResult],
    respond: Callable[[m.CallResult], _Response],
) -> _Response:
    outcome = await result
    if isinstance(outcome, m.CallError):
        await context.abort(
            convert.status_code(outcome.code), outcome.message, convert.error_metadata(outcome)
        )
    return respond(outcome)


async def _caller(context: grpc.aio.ServicerContext) -> bytes:
    caller = caller_certificate_der(context.auth_context())
    if caller is None:  # the port requires a client certificate; this is a belt to those braces
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
    assert caller is not None
    return caller


async def _client_call(
    handlers: NodeHandlers,
    context: grpc.aio.ServicerContext,
    call: m.ClientCall,
    respond: Callable[[m.CallResult], _Response],
) -> _Response:
    caller = await _caller(context)
    return await _answer(context, handlers.client_call(caller, call), respond)


class ClientService(client_pb2_grpc.ClientServicer):
    def __init__(self, handlers: NodeHandlers) -> None:
        self._handlers = handlers

    async def _call(
        self,
        context: grpc.aio.ServicerContext,
        call: m.ClientCall,
        respond: Callable[[m.CallResult], _Response],
    ) -> _Response:
        return await _client_call(self._handlers, context, call, respond)

    async def Put(
        self, request: client_pb2.PutRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.WriteResponse:
        return await self._call(context, convert.put_call(request), convert.write_response)

    async def Delete(
        self, request: client_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.WriteResponse:
        return await self._call(context, convert.delete_call(request), convert.write_response)

    async def Get(
        self, request: client_pb2.GetRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.GetResponse:
        return await self._call(context, convert.get_call(request), convert.get_response)

    async def Scan(
        self, request: client_pb2.ScanRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.ScanResponse:
        return await self._call(context, convert.scan_call(request), convert.scan_response)

    async def GetTxStatus(
        self, request: client_pb2.TxStatusRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.TxStatusResponse:
        return await self._call(context, convert.tx_status_call(request), convert.tx_status_response)

    async def GetReceipt(
        self, request: client_pb2.ReceiptRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.ReceiptResponse:
        return await self._call(context, convert.receipt_call(request), convert.receipt_response)

    async def Call(
        self, request: client_pb2.CallRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.CallResponse:
        return await self._call(context, convert.procedure_call(request), convert.procedure_response)

    async def WaitForCommit(
        self, request: client_pb2.WaitForCommitRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.TxStatusResponse:
        """Polls the transaction's status until it is final (Committed or Invalid) or the timeout;
        answers with the status then (the node's commit is what moves it, not this call)."""
        timeout = (request.timeout_ms or DEFAULT_WAIT_FOR_COMMIT_MS) / 1000
        deadline = asyncio.get_running_loop().time() + timeout
        query = m.GetTxStatus(convert.txid_from_proto(request.txid))
        while True:
            response = await self._call(context, query, convert.tx_status_response)
            final = response.status in (common_pb2.TX_STATUS_COMMITTED, common_pb2.TX_STATUS_INVALID)
            if final or asyncio.get_running_loop().time() >= deadline:
                return response
            await asyncio.sleep(WAIT_FOR_COMMIT_POLL_SECONDS)

    async def Stream(
        self, requests: AsyncIterator[client_pb2.StreamRequest], context: grpc.aio.ServicerContext
    ) -> None:
        caller = await _caller(context)
        await serve_stream(lambda call: self._handlers.client_call(caller, call), requests, context.write)


class GovernanceService(governance_pb2_grpc.GovernanceServicer):
    def __init__(self, handlers: NodeHandlers) -> None:
        self._handlers = handlers

    async def Submit(
        self, request: governance_pb2.SignedRequest, context: grpc.aio.ServicerContext
    ) -> governance_pb2.GovernanceResponse:
        call = convert.gov_submit_call(request)
        return await _client_call(self._handlers, context, call, convert.governance_response)

    async def Read(
        self, request: governance_pb2.GovernanceQuery, context: grpc.aio.ServicerContext
    ) -> governance_pb2.GovernanceRows:
        call = convert.gov_read_call(request)
        if isinstance(call, m.CallError):
            await context.abort(convert.status_code(call.code), call.message, convert.error_metadata(call))
        assert isinstance(call, m.GovRead)
        return await _client_call(self._handlers, context, call, convert.governance_rows_response)


class PeerService(node_pb2_grpc.PeerServicer):
    def __init__(self, handlers: NodeHandlers) -> None:
        self._handlers = handlers

    async def Join(
        self, request: node_pb2.JoinRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.JoinResponse:
        try:
            return node_pb2.JoinResponse(body=await self._handlers.join_request(request.body))
        except TimeoutError:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "the join request was not answered in time; retry"
            )
            raise  # unreachable: abort raises


class OperatorService(operator_pb2_grpc.OperatorServicer):
    def __init__(self, handlers: NodeHandlers, metrics: CollectorRegistry) -> None:
        self._handlers = handlers
        self._metrics = metrics

    async def NodeStatus(
        self, request: operator_pb2.NodeStatusRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.NodeStatusResponse:
        return convert.node_status_response(await self._handlers.node_status())

    async def Metrics(
        self, request: operator_pb2.MetricsRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.MetricsResponse:
        return operator_pb2.MetricsResponse(prometheus_text=generate_latest(self._metrics).decode())


class ListenError(Exception):
    """A server address that cannot be bound."""


def _bind(address: Address, add_port: Callable[[], int]) -> int:
    try:
        return add_port()
    except RuntimeError:  # gRPC's only report of a failed bind
        raise ListenError(
            f"cannot listen on {address}: the port is in use or the address is not local"
        ) from None


@dataclass(frozen=True, slots=True)
class BoundPorts:
    client: int
    peer: int
    operator: int
    join: int
    metrics: int


class NodeServers:
    """The servers of one node, listening from `start` until `stop`."""

    def __init__(
        self, handlers: NodeHandlers, client_roots: bytes | None, metrics: CollectorRegistry | None = None
    ) -> None:
        """`metrics`: the registry `/metrics` and the operator API's `Metrics` serve (the host's
        `NodeMetrics.registry`; None: an empty one)."""
        metrics = CollectorRegistry() if metrics is None else metrics
        self.client_tls = ServerTls(require_client_auth=True, client_roots=client_roots)
        self.join_tls = ServerTls(require_client_auth=False)
        # Until this node knows its service, nobody can send frames to it.
        self._peer = PeerServer(handlers.peer_frame)
        # An interceptor per server: it keeps wrapped handlers by method name, and the client and operator
        # ports serve the same reflection method with different handlers.
        self._client, self._join, self._operator = (
            grpc.aio.server(options=SERVER_OPTIONS, interceptors=(InvalidArgumentOnDecodeError(),))
            for _ in range(3)
        )
        client_pb2_grpc.add_ClientServicer_to_server(ClientService(handlers), self._client)  # type: ignore[no-untyped-call]
        governance_pb2_grpc.add_GovernanceServicer_to_server(GovernanceService(handlers), self._client)  # type: ignore[no-untyped-call]
        node_pb2_grpc.add_PeerServicer_to_server(PeerService(handlers), self._join)  # type: ignore[no-untyped-call]
        operator_pb2_grpc.add_OperatorServicer_to_server(OperatorService(handlers, metrics), self._operator)  # type: ignore[no-untyped-call]
        self._metrics = metrics
        self._metrics_http: WSGIServer | None = None
        # gRPC health: the process ("") serves from the start; the client API only once the node has its
        # service-endorsed identity (it is part of a network), until then it reports NOT_SERVING.
        self.health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._operator)
        services = (
            CLIENT_SERVICE,
            GOVERNANCE_SERVICE,
            operator_pb2.DESCRIPTOR.services_by_name["Operator"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(services, self._operator)
        # Generic gRPC tools (grpcurl, Postman) discover the client and governance APIs where they call them.
        reflection.enable_server_reflection(
            (CLIENT_SERVICE, GOVERNANCE_SERVICE, reflection.SERVICE_NAME), self._client
        )

    async def start(
        self,
        client: Address,
        peer: Address,
        operator: Address,
        join: Address,
        metrics: Address = LOOPBACK_ANY_PORT.bind,
    ) -> BoundPorts:
        """Binds the five addresses (port 0: a free port) and starts serving; the ports bound.
        A `ListenError` names an address that cannot be bound (in use, or not a local address)."""
        ports = BoundPorts(
            client=_bind(
                client, lambda: self._client.add_secure_port(str(client), self.client_tls.credentials())
            ),
            peer=await self._listen_for_peers(peer),
            operator=_bind(operator, lambda: self._operator.add_insecure_port(str(operator))),
            join=_bind(join, lambda: self._join.add_secure_port(str(join), self.join_tls.credentials())),
            metrics=self._serve_metrics(metrics),
        )
        for server in (self._client, self._join, self._operator):
            await server.start()
        await self.health.set(CLIENT_SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
        return ports

    async def _listen_for_peers(self, address: Address) -> int:
        try:
            return await self._peer.start(address)
        except OSError as error:
            raise ListenError(f"cannot listen on {address}: {error.strerror}") from None

    def _serve_metrics(self, address: Address) -> int:
        """`GET /metrics` on `address`, from a daemon thread; the port bound."""
        try:
            server, _ = start_http_server(address.port, address.host, registry=self._metrics)
        except OSError as error:
            raise ListenError(f"cannot listen on {address}: {error.strerror}") from None
        self._metrics_http = server
        return server.server_port

    def set_identity(self, cert_pem: bytes, key_pem: bytes, service_cert_pem: bytes) -> None:
        """From the next TLS handshake on, every TLS port presents the service-endorsed certificate, and
        the peer port accepts the callers the service endorsed."""
        for tls in (self.client_tls, self.join_tls):
            tls.set_identity(cert_pem, key_pem)
        self._peer.set_identity(cert_pem, key_pem, service_cert_pem)

    async def report_client_api_serving(self) -> None:
        await self.health.set(CLIENT_SERVICE, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_seconds: float) -> None:
        await self.health.enter_graceful_shutdown()
        stopping = [server.stop(grace_seconds) for server in (self._client, self._join, self._operator)]
        stopping.append(self._peer.stop())
        if self._metrics_http is not None:
            stopping.append(self._stop_metrics(self._metrics_http))
            self._metrics_http = None
        await asyncio.gather(*stopping)

    @staticmethod
    async def _stop_metrics(server: WSGIServer) -> None:
        # `shutdown` waits for the serving thread to see the request (up to its 0.5 s poll interval).
        await asyncio.to_thread(server.shutdown)
        server.server_close()
