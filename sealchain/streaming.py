"""An asyncio client that keeps many calls in flight to one node on one gRPC stream: `StreamingClient`.

    access = ServiceAccess.from_workspace(Path("workspace"), "user0")
    async with StreamingClient.to_node(access, access.addresses[0]) as client:
        written = await asyncio.gather(*(client.put("records", b"%d" % i, b"v") for i in range(1000)))

Each call is the transaction the same `Client` method makes, with the same results and refusals
(`ClientError`). The calls share one `Client.Stream`: those made while a message is being sent go
together in the next one, and the node answers all those ready in one message. With many calls in flight
this costs the node and the caller a fraction of a unary call per request (docs/performance.md).

It talks to one node and does not fail over or retry. A failure is raised with `retryable` set as
`Client` sets it: a write whose outcome is unknown (the stream broke after it was sent, or no answer came
in time) is not retryable.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import grpc

from enclave.runtime.messages import (
    ClientCall,
    Consistency,
    Delete,
    ErrorCode,
    Get,
    GetReceipt,
    GetResult,
    GetTxStatus,
    ProcedureResult,
    Put,
    ReceiptResult,
    Scan,
    ScanResult,
    TxRef,
    TxStatusResult,
    WriteResult,
)
from node.rpc import convert
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import client_pb2, client_pb2_grpc
from sealchain.client import ProcedureOutcome, procedure_call
from sealchain.connection import (
    DEFAULT_TIMEOUT_SECONDS,
    ClientError,
    ServiceAccess,
    refusal,
    transport_failure,
)

_Result = TypeVar("_Result")
# How long `close` waits for the node to end a stream with no call waiting, before cancelling it.
_CLOSE_GRACE_SECONDS = 5.0


@dataclass(slots=True)
class _Waiting:
    """A call sent (or about to be) and not answered yet."""

    answer: asyncio.Future[client_pb2.StreamedAnswer]
    once: bool  # it must not take effect twice (a write)
    deadline: asyncio.TimerHandle


class _Stream:
    """One `Client.Stream` call: a task that sends what is queued, one that hands out the answers."""

    def __init__(self, stub: client_pb2_grpc.ClientStub, address: str) -> None:
        self.address = address
        self.waiting: dict[int, _Waiting] = {}
        self.ended = False
        self._call = stub.Stream()
        self._queued: list[client_pb2.StreamedCall] = []
        self._wake = asyncio.Event()
        self._sender = asyncio.create_task(self._send())
        self._receiver = asyncio.create_task(self._receive())

    def submit(self, streamed: client_pb2.StreamedCall, waiting: _Waiting) -> None:
        self.waiting[streamed.id] = waiting
        self._queued.append(streamed)
        self._wake.set()

    async def _send(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch, self._queued = self._queued, []
                await self._call.write(client_pb2.StreamRequest(calls=batch))
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # the stream ended: the receiver fails what is waiting

    async def _receive(self) -> None:
        try:
            async for response in self._call:
                for answer in response.answers:
                    waiting = self.waiting.pop(answer.id, None)
                    if waiting is not None:
                        waiting.deadline.cancel()
                        if not waiting.answer.done():
                            waiting.answer.set_result(answer)
        except grpc.aio.AioRpcError as error:
            self._end(error.code(), error.details() or error.code().name)
        else:
            self._end(grpc.StatusCode.UNAVAILABLE, "the node ended the stream")

    def _end(self, status: grpc.StatusCode, details: str) -> None:
        """No more answers will come: every call still waiting fails with `status`."""
        self.ended = True
        self._sender.cancel()
        for waiting in self.waiting.values():
            waiting.deadline.cancel()
            if not waiting.answer.done():
                waiting.answer.set_exception(
                    transport_failure(status, details, self.address, once=waiting.once)
                )
        self.waiting.clear()

    async def close(self) -> None:
        self._sender.cancel()
        if not self.waiting:
            # Ended in order, the call completes before its event loop may close; a cancelled one can
            # still deliver a completion to a closed loop.
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await self._call.done_writing()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._receiver), _CLOSE_GRACE_SECONDS)
        self._receiver.cancel()
        self._call.cancel()
        await asyncio.gather(self._sender, self._receiver, return_exceptions=True)
        self._end(grpc.StatusCode.CANCELLED, "the client closed the stream")


class StreamingClient:
    """Calls to the node at `address` over `channel` (a `grpc.aio` channel with the user's mutual TLS);
    `to_node` opens one. Use it from one event loop."""

    def __init__(
        self, channel: grpc.aio.Channel, address: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self.address = address
        self.timeout = timeout
        self._channel = channel
        self._stub = client_pb2_grpc.ClientStub(channel)  # type: ignore[no-untyped-call]
        self._stream: _Stream | None = None
        self._ids = itertools.count(1)
        self._owns_channel = False

    @classmethod
    def to_node(
        cls, access: ServiceAccess, address: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> StreamingClient:
        """A client of the node at `address` ("host:port"), as the holder of `access`'s identity."""
        credentials = channel_credentials(access.service_cert_pem, (access.cert_pem, access.key_pem))
        client = cls(grpc.aio.secure_channel(address, credentials), address, timeout=timeout)
        client._owns_channel = True
        return client

    # -- calls -----------------------------------------------------------------------------------

    async def put(
        self,
        map_name: str,
        key: bytes,
        value: bytes,
        *,
        wait: bool = True,
        expected_version: int | None = None,
    ) -> WriteResult:
        """As `Client.put`."""
        put = Put(map_name, key, value, wait_for_commit=wait, expected_version=expected_version)
        return await self._ask(put, WriteResult, once=True)

    async def delete(self, map_name: str, key: bytes, *, wait: bool = True) -> WriteResult:
        return await self._ask(Delete(map_name, key, wait_for_commit=wait), WriteResult, once=True)

    async def get(
        self, map_name: str, key: bytes, *, consistency: Consistency = Consistency.LINEARIZABLE
    ) -> GetResult:
        return await self._ask(Get(map_name, key, consistency), GetResult, once=False)

    async def scan(
        self,
        map_name: str,
        *,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int = 1000,
        consistency: Consistency = Consistency.LINEARIZABLE,
    ) -> ScanResult:
        return await self._ask(Scan(map_name, start, end, limit, consistency), ScanResult, once=False)

    async def call(
        self,
        procedure: str,
        args: dict[str, object] | None = None,
        *,
        wait: bool = True,
        read_only: bool = False,
    ) -> ProcedureOutcome:
        """As `Client.call`."""
        call = procedure_call(procedure, args, wait=wait)
        return ProcedureOutcome.of(await self._ask(call, ProcedureResult, once=not read_only))

    async def status(self, txid: TxRef) -> TxStatusResult:
        return await self._ask(GetTxStatus(txid), TxStatusResult, once=False)

    async def receipt(self, txid: TxRef) -> ReceiptResult:
        return await self._ask(GetReceipt(txid), ReceiptResult, once=False)

    # -- the stream ------------------------------------------------------------------------------

    async def _ask(self, call: ClientCall, result_type: type[_Result], *, once: bool) -> _Result:
        if self._stream is None or self._stream.ended:
            self._stream = _Stream(self._stub, self.address)
        stream = self._stream
        call_id = next(self._ids)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[client_pb2.StreamedAnswer] = loop.create_future()
        deadline = loop.call_later(self.timeout, self._expire, stream, call_id)
        stream.submit(convert.streamed_request(call_id, call), _Waiting(answer, once, deadline))
        result = convert.streamed_result(await answer)
        if isinstance(result, client_pb2.CallRefused):
            raise self._refusal(result, once)
        if not isinstance(result, result_type):
            raise convert.UnexpectedResult(f"a {type(call).__name__} was answered with {result!r}")
        return result

    def _expire(self, stream: _Stream, call_id: int) -> None:
        waiting = stream.waiting.pop(call_id, None)
        if waiting is None or waiting.answer.done():
            return
        unknown = " (the outcome is unknown)" if waiting.once else ""
        message = f"{self.address}: no answer within {self.timeout:g} s{unknown}"
        waiting.answer.set_exception(
            ClientError(grpc.StatusCode.DEADLINE_EXCEEDED.name, message, retryable=not waiting.once)
        )

    @staticmethod
    def _refusal(refused: client_pb2.CallRefused, once: bool) -> ClientError:
        try:
            code = ErrorCode(refused.code)
        except ValueError:  # a code this client does not know: reported as the node named it
            return ClientError(refused.code, refused.message)
        return refusal(code, refused.message, once=once, another_node_may_serve=convert.RETRYABLE_ERRORS)

    async def close(self) -> None:
        """Ends the stream (a call still waiting fails: a write's outcome is then unknown) and closes
        the channel if `to_node` opened it."""
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
