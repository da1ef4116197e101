"""The systems under test as the load generator sees them: asyncio clients over `grpc.aio`.

A `TargetSpec` is what a client process needs to connect (plain data, so it crosses a process boundary);
`connect()` opens one channel per node, shared by all the coroutines of the process (HTTP/2 multiplexes
them, as etcd's own client does), and client `i` talks to node `i mod n`, so the load is spread over every
node of both systems alike. Every call is made as the user's client library would: sealchain writes wait
until Committed, reads are linearizable (sealchain's default and etcd's). sealchain's calls share one
`Client.Stream` per node (`StreamingClient`, or one unary call each with `unary_calls`); etcd's are one
unary call each, as its own client makes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import grpc
import msgpack

from enclave.apps.api import ProcedureError
from enclave.runtime import messages as m
from node.rpc import convert
from node.rpc.tls import channel_credentials
from proto.etcd.etcdserverpb import kv_pb2, kv_pb2_grpc
from proto.sealchain.v1 import client_pb2_grpc
from sealchain.benchmark.etcd_smallbank import TooManyConflicts, run_procedure
from sealchain.connection import ClientError
from sealchain.streaming import StreamingClient

# Both systems are called with a deadline, so a stuck request is an error in the figures, not a hang.
CALL_TIMEOUT_SECONDS = 30.0
BENCH_MAP = "bench"
PAGE = 1000

_Response = TypeVar("_Response")


class CallFailed(Exception):
    """A request the system refused or did not complete; `code` names why (the node's `ErrorCode` value,
    the gRPC status name, or "NotCommitted"), the figures count failures by it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Target(Protocol):
    """One client process's connection to a system under test."""

    async def put(self, client: int, key: bytes, value: bytes) -> None:
        """Returns once the write is durable and committed (acknowledged)."""

    async def get(self, client: int, key: bytes) -> bytes | None: ...

    async def read_range(self, start: bytes, end: bytes) -> dict[bytes, bytes]:
        """Every key in [start, end) with its value, read linearizably, page by page."""

    async def call(self, client: int, procedure: str, args: dict[str, object]) -> object:
        """Runs a SmallBank procedure, waiting for commit when it writes; its decoded result."""

    async def close(self) -> None: ...


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with `prefix` (etcd's range_end for a prefix)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


@dataclass(frozen=True, slots=True)
class SealchainSpec:
    """A sealchain service: the nodes' client endpoints, the service certificate, a user's identity."""

    addresses: tuple[str, ...]
    service_cert_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    unary_calls: bool = False  # one unary call per request instead of `Client.Stream`

    def connect(self) -> SealchainTarget | UnarySealchainTarget:
        channels = _mutual_tls_channels(self.addresses, self.service_cert_pem, self.cert_pem, self.key_pem)
        if self.unary_calls:
            return UnarySealchainTarget(channels)
        return SealchainTarget(self.addresses, channels)


@dataclass(frozen=True, slots=True)
class EtcdSpec:
    """An etcd cluster: its members' client endpoints ("host:port", gRPC with mutual TLS, as sealchain's),
    the CA that issued the members' certificates, and a client identity it issued."""

    addresses: tuple[str, ...]
    ca_cert_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def connect(self) -> EtcdTarget:
        return EtcdTarget(_mutual_tls_channels(self.addresses, self.ca_cert_pem, self.cert_pem, self.key_pem))


def _mutual_tls_channels(
    addresses: Sequence[str], root_cert_pem: bytes, cert_pem: bytes, key_pem: bytes
) -> list[grpc.aio.Channel]:
    """One channel per address, trusting `root_cert_pem` and presenting the identity (both systems')."""
    credentials = channel_credentials(root_cert_pem, (cert_pem, key_pem))
    return [grpc.aio.secure_channel(address, credentials) for address in addresses]


TargetSpec = SealchainSpec | EtcdSpec


async def _called(call: Awaitable[_Response]) -> _Response:
    """The response, or `CallFailed` named after the node's error code (or the gRPC status)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        code = convert.error_from_metadata(error.trailing_metadata())
        name = code.value if code is not None else error.code().name
        raise CallFailed(name, error.details() or name) from None


async def _streamed(call: Awaitable[_Response]) -> _Response:
    """The result, or `CallFailed` named after the client's error code (the node's, or the gRPC status)."""
    try:
        return await call
    except ClientError as error:
        raise CallFailed(error.code, error.message) from None


class SealchainTarget:
    """Every call on the node's `Client.Stream`, as `StreamingClient` makes it: the client library a
    program with many requests at once uses (one stream per node per process)."""

    def __init__(self, addresses: Sequence[str], channels: Sequence[grpc.aio.Channel]) -> None:
        self._channels = list(channels)
        self._clients = [
            StreamingClient(channel, address, timeout=CALL_TIMEOUT_SECONDS)
            for address, channel in zip(addresses, channels, strict=True)
        ]

    def _client(self, client: int) -> StreamingClient:
        return self._clients[client % len(self._clients)]

    async def put(self, client: int, key: bytes, value: bytes) -> None:
        written = await _streamed(self._client(client).put(BENCH_MAP, key, value))
        _require_committed(written.status)

    async def get(self, client: int, key: bytes) -> bytes | None:
        return (await _streamed(self._client(client).get(BENCH_MAP, key))).value

    async def call(self, client: int, procedure: str, args: dict[str, object]) -> object:
        outcome = await _streamed(self._client(client).call(procedure, args))
        _require_committed(outcome.status)
        return outcome.result

    async def read_range(self, start: bytes, end: bytes) -> dict[bytes, bytes]:
        def page(first: bytes) -> Awaitable[m.ScanResult]:
            return _streamed(self._clients[0].scan(BENCH_MAP, start=first, end=end, limit=PAGE))

        return await _scan_pages(page, start)

    async def close(self) -> None:
        for streaming, channel in zip(self._clients, self._channels, strict=True):
            await streaming.close()
            await channel.close()


class UnarySealchainTarget:
    """One unary gRPC call per request, as `Client` makes them (`--unary-calls`)."""

    def __init__(self, channels: Sequence[grpc.aio.Channel]) -> None:
        self._channels = list(channels)
        self._stubs = [client_pb2_grpc.ClientStub(channel) for channel in channels]  # type: ignore[no-untyped-call]

    def _stub(self, client: int) -> client_pb2_grpc.ClientStub:
        return self._stubs[client % len(self._stubs)]

    async def put(self, client: int, key: bytes, value: bytes) -> None:
        request = convert.put_request(m.Put(BENCH_MAP, key, value))
        response = await _called(self._stub(client).Put(request, timeout=CALL_TIMEOUT_SECONDS))
        _require_committed(convert.write_result(response).status)

    async def get(self, client: int, key: bytes) -> bytes | None:
        request = convert.get_request(m.Get(BENCH_MAP, key))
        response = await _called(self._stub(client).Get(request, timeout=CALL_TIMEOUT_SECONDS))
        return convert.get_result(response).value

    async def call(self, client: int, procedure: str, args: dict[str, object]) -> object:
        packed = msgpack.packb(args, use_bin_type=True)
        request = convert.procedure_request(m.CallProcedure(procedure, packed))
        response = await _called(self._stub(client).Call(request, timeout=CALL_TIMEOUT_SECONDS))
        outcome = convert.procedure_result(response)
        _require_committed(outcome.status)
        return msgpack.unpackb(outcome.result, raw=False) if outcome.result else None

    async def read_range(self, start: bytes, end: bytes) -> dict[bytes, bytes]:
        async def page(first: bytes) -> m.ScanResult:
            request = convert.scan_request(m.Scan(BENCH_MAP, first, end, PAGE))
            response = await _called(self._stubs[0].Scan(request, timeout=CALL_TIMEOUT_SECONDS))
            return convert.scan_result(response)

        return await _scan_pages(page, start)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


async def _scan_pages(page: Callable[[bytes], Awaitable[m.ScanResult]], start: bytes) -> dict[bytes, bytes]:
    """Every item of a sealchain scan of up to `PAGE` keys from `start`, page after page (`page(first)`)
    until a page comes back short."""
    found: dict[bytes, bytes] = {}
    while True:
        items = (await page(start)).items
        found.update((item.key, item.value) for item in items)
        if len(items) < PAGE:
            return found
        start = items[-1].key + b"\0"


def _require_committed(status: m.TxStatus) -> None:
    if status is not m.TxStatus.COMMITTED:
        raise CallFailed("NotCommitted", f"acknowledged with status {status.name}")


class EtcdTarget:
    def __init__(self, channels: Sequence[grpc.aio.Channel]) -> None:
        self._channels = list(channels)
        self._stubs = [kv_pb2_grpc.KVStub(channel) for channel in channels]  # type: ignore[no-untyped-call]

    def _stub(self, client: int) -> kv_pb2_grpc.KVStub:
        return self._stubs[client % len(self._stubs)]

    async def call(self, client: int, procedure: str, args: dict[str, object]) -> object:
        """SmallBank's procedures, run by this client against etcd (`etcd_smallbank`); a refusal fails
        the request as sealchain's node fails it: "ProcedureFailed", the message starting with its code."""
        stub = self._stub(client)

        async def txn(request: kv_pb2.TxnRequest) -> kv_pb2.TxnResponse:
            return await _called(stub.Txn(request, timeout=CALL_TIMEOUT_SECONDS))

        try:
            return await run_procedure(txn, procedure, args)
        except ProcedureError as refusal:
            raise CallFailed(m.ErrorCode.PROCEDURE_FAILED.value, f"{refusal.code}: {refusal}") from None
        except TooManyConflicts as conflicts:
            raise CallFailed("Conflict", str(conflicts)) from None

    async def put(self, client: int, key: bytes, value: bytes) -> None:
        request = kv_pb2.PutRequest(key=key, value=value)
        await _called(self._stub(client).Put(request, timeout=CALL_TIMEOUT_SECONDS))

    async def get(self, client: int, key: bytes) -> bytes | None:
        request = kv_pb2.RangeRequest(key=key)
        response = await _called(self._stub(client).Range(request, timeout=CALL_TIMEOUT_SECONDS))
        return response.kvs[0].value if response.kvs else None

    async def read_range(self, start: bytes, end: bytes) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        while True:
            request = kv_pb2.RangeRequest(key=start, range_end=end, limit=PAGE)
            response = await _called(self._stubs[0].Range(request, timeout=CALL_TIMEOUT_SECONDS))
            found.update((kv.key, kv.value) for kv in response.kvs)
            if not response.more:
                return found
            start = response.kvs[-1].key + b"\0"

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
