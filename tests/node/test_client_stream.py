"""`Client.Stream` and `StreamingClient`: many calls in flight on one gRPC stream.

The node's side (`serve_stream`) without sockets; then one real node in this process (host, enclave,
gRPC with TLS) driven by `StreamingClient`; then the client's failure paths against a stand-in server
that answers late or breaks the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from enclave.runtime import messages as m
from node.main import create_host
from node.rpc import convert
from node.rpc.client_stream import MAX_CALLS_IN_FLIGHT, serve_stream
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import client_pb2, client_pb2_grpc, common_pb2
from sealchain.client import Client, ClientError, TxStatus
from sealchain.connection import ServiceAccess
from sealchain.streaming import StreamingClient
from tests.node.governing import open_service, until
from tests.node.test_host_node import genesis_config

COMMITTED = m.WriteResult(m.TxRef(2, 7), m.TxStatus.COMMITTED)


def streamed_put(call_id: int) -> client_pb2.StreamedCall:
    return convert.streamed_request(call_id, m.Put("records", b"k%d" % call_id, b"v"))


async def sent(*messages: client_pb2.StreamRequest) -> AsyncIterator[client_pb2.StreamRequest]:
    for message in messages:
        yield message


class Written:
    """What `serve_stream` wrote: every message, and the answers by call id."""

    def __init__(self) -> None:
        self.messages: list[client_pb2.StreamResponse] = []
        self.answers: dict[int, client_pb2.StreamedAnswer] = {}

    async def __call__(self, message: client_pb2.StreamResponse) -> None:
        self.messages.append(message)
        for answer in message.answers:
            assert answer.id not in self.answers, f"call {answer.id} answered twice"
            self.answers[answer.id] = answer


# -- the node's side, without sockets ---------------------------------------------------------------


def test_answers_ready_together_go_out_in_one_message() -> None:
    written = Written()

    async def ask(call: m.ClientCall) -> m.CallResult:
        return COMMITTED

    request = client_pb2.StreamRequest(calls=[streamed_put(i) for i in range(1, 51)])
    asyncio.run(serve_stream(ask, sent(request), written))
    assert set(written.answers) == set(range(1, 51))
    assert all(answer.write.status == common_pb2.TX_STATUS_COMMITTED for answer in written.answers.values())
    assert len(written.messages) == 1


def test_a_call_without_a_request_is_refused_alone() -> None:
    written = Written()
    asked: list[m.ClientCall] = []

    async def ask(call: m.ClientCall) -> m.CallResult:
        asked.append(call)
        return m.GetResult(b"v", m.TxRef(2, 7), 5)

    get = convert.streamed_request(2, m.Get("records", b"k"))
    asyncio.run(
        serve_stream(ask, sent(client_pb2.StreamRequest(calls=[client_pb2.StreamedCall(id=1), get])), written)
    )
    refused = written.answers[1].refused
    assert (refused.code, refused.message) == ("InvalidArgument", "streamed call 1 carries no request")
    assert written.answers[2].get.value == b"v"
    assert asked == [m.Get("records", b"k")]


def test_a_stream_holds_at_most_max_calls_in_flight_and_reads_on_as_they_are_answered() -> None:
    written = Written()
    release = asyncio.Event()
    in_flight = 0
    most = 0

    async def ask(call: m.ClientCall) -> m.CallResult:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await release.wait()
        in_flight -= 1
        return COMMITTED

    calls = MAX_CALLS_IN_FLIGHT + 10
    request = client_pb2.StreamRequest(calls=[streamed_put(i) for i in range(calls)])

    async def scenario() -> None:
        serving = asyncio.create_task(serve_stream(ask, sent(request), written))
        await until("the stream to fill", lambda: _true_when(in_flight == MAX_CALLS_IN_FLIGHT))
        for _ in range(10):  # the stream is not read further while it is full
            await asyncio.sleep(0)
        assert in_flight == MAX_CALLS_IN_FLIGHT and not written.answers
        release.set()
        await serving

    asyncio.run(scenario())
    assert most == MAX_CALLS_IN_FLIGHT
    assert len(written.answers) == calls


def test_a_caller_that_goes_away_cancels_the_calls_in_flight() -> None:
    cancelled = 0
    started = asyncio.Event()

    async def ask(call: m.ClientCall) -> m.CallResult:
        nonlocal cancelled
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise
        raise AssertionError("never answered")

    async def scenario() -> None:
        request = client_pb2.StreamRequest(calls=[streamed_put(i) for i in range(3)])
        serving = asyncio.create_task(serve_stream(ask, sent(request), Written()))
        await started.wait()
        serving.cancel()  # as grpc.aio cancels the handler when its caller cancels
        with pytest.raises(asyncio.CancelledError):
            await serving

    asyncio.run(scenario())
    assert cancelled == 3


async def _true_when(condition: bool) -> bool | None:
    return True if condition else None


def test_only_client_api_calls_can_be_streamed() -> None:
    with pytest.raises(ValueError, match="GovSubmit is not a call of the client API"):
        convert.streamed_request(1, m.GovSubmit(b"signed"))


# -- one real node ------------------------------------------------------------------------------------


def access(root: Path, host_address: str, identity: str = "users/user0") -> ServiceAccess:
    return ServiceAccess(
        (host_address,),
        service_cert_pem=(root / "service_cert.pem").read_bytes(),
        cert_pem=(root / f"{identity}_cert.pem").read_bytes(),
        key_pem=(root / f"{identity}_privk.pem").read_bytes(),
    )


def with_open_node(root: Path, scenario: Callable[[str], Awaitable[None]]) -> None:
    """Runs `scenario` with the client address of a genesis node whose service is open."""
    config = genesis_config(root)

    async def run() -> None:
        host = create_host(config)
        await host.start()
        try:
            await open_service(host)
            await scenario(str(host.config.client.advertised))
        finally:
            await host.close()

    asyncio.run(run())


def test_streamed_calls_are_the_unary_calls_many_at_a_time(tmp_path: Path) -> None:
    async def scenario(address: str) -> None:
        async with StreamingClient.to_node(access(tmp_path, address), address) as client:
            keys = [b"key-%03d" % i for i in range(200)]
            written = await asyncio.gather(*(client.put("records", key, key + b"!") for key in keys))
            assert {w.status for w in written} == {TxStatus.COMMITTED}
            assert len({w.txid for w in written}) == len(keys)  # each call is its own transaction

            # A refusal answers its own call; the calls beside it go through.
            first, refused, last = await asyncio.gather(
                client.put("records", b"new", b"1", expected_version=0),
                client.put("records", keys[0], b"overwrite?", expected_version=0),
                client.put("records", b"newer", b"2"),
                return_exceptions=True,
            )
            assert isinstance(refused, ClientError) and refused.code == "VersionMismatch"
            assert not refused.retryable
            assert isinstance(first, m.WriteResult) and isinstance(last, m.WriteResult)
            with pytest.raises(ClientError) as reserved:
                await client.put("public:ccf.gov.members.certs", b"k", b"v")
            assert reserved.value.code == "ReservedMap"

            read = await client.get("records", keys[7])
            assert (read.value, read.version) == (b"key-007!", written[7].txid.seqno)
            scanned = await client.scan("records", start=b"key-", end=b"key-003")
            assert [item.key for item in scanned.items] == keys[:3]
            assert (await client.status(written[0].txid)).status is TxStatus.COMMITTED
            assert '"leaf_components"' in (await client.receipt(written[0].txid)).receipt_json
            await client.call("smallbank.create_account", {"name": "ann", "checking": 10, "savings": 5})
            balance = await client.call("smallbank.balance", {"name": "ann"}, read_only=True)
            assert balance.result == {"checking": 10, "savings": 5, "total": 15}
            deleted = await client.delete("records", keys[1])
            assert deleted.status is TxStatus.COMMITTED

        # What the stream wrote is what a unary client reads.
        with Client.from_access(access(tmp_path, address), timeout=10.0) as unary:
            got = await asyncio.to_thread(unary.get, "records", keys[2])
            gone = await asyncio.to_thread(unary.get, "records", keys[1])
        assert (got.value, gone.value) == (b"key-002!", None)

        member = access(tmp_path, address, "members/member0")
        async with StreamingClient.to_node(member, address) as stranger:
            for _ in range(2):  # refused call by call; the stream goes on
                with pytest.raises(ClientError) as not_a_user:
                    await stranger.get("records", keys[0])
                assert (
                    not_a_user.value.code == "NotAUser" and b"key-000!" not in str(not_a_user.value).encode()
                )

    with_open_node(tmp_path, scenario)


def test_a_stream_message_that_does_not_decode_ends_that_stream_with_invalid_argument(tmp_path: Path) -> None:
    async def scenario(address: str) -> None:
        user = access(tmp_path, address)
        credentials = channel_credentials(user.service_cert_pem, (user.cert_pem, user.key_pem))
        async with grpc.aio.secure_channel(address, credentials) as channel:
            raw = channel.stream_stream("/sealchain.v1.Client/Stream")()
            await raw.write(b"\xff\xff\xff")
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                async for _ in raw:
                    pass
            assert ended.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert "/sealchain.v1.Client/Stream does not decode" in (ended.value.details() or "")
        async with StreamingClient.to_node(user, address) as client:  # the node serves on
            assert (await client.put("records", b"k", b"v")).status is TxStatus.COMMITTED

    with_open_node(tmp_path, scenario)


# -- the client's failure paths, against a stand-in server ---------------------------------------------


class StandIn(client_pb2_grpc.ClientServicer):
    """A `Client.Stream` that reads calls and answers none; its first `breaks` streams it aborts with
    UNAVAILABLE once a message arrived, and later ones answer every status query."""

    def __init__(self, breaks: int = 0) -> None:
        self.breaks = breaks
        self.calls_seen = 0

    async def Stream(
        self, requests: AsyncIterator[client_pb2.StreamRequest], context: grpc.aio.ServicerContext
    ) -> None:
        breaking = self.breaks > 0
        self.breaks -= 1
        async for message in requests:
            self.calls_seen += len(message.calls)
            if breaking:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the stand-in went away")
            answers = [
                convert.streamed_answer(
                    call.id, "tx_status", m.TxStatusResult(m.TxRef(1, 1), m.TxStatus.PENDING)
                )
                for call in message.calls
                if call.HasField("tx_status")
            ]
            if answers:
                await context.write(client_pb2.StreamResponse(answers=answers))


async def start_stand_in(servicer: StandIn) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    client_pb2_grpc.add_ClientServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def test_a_call_unanswered_in_time_fails_and_a_write_then_is_not_retryable() -> None:
    async def scenario() -> None:
        server, address = await start_stand_in(StandIn())
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                client = StreamingClient(channel, address, timeout=0.3)
                write, read = await asyncio.gather(
                    client.put("records", b"k", b"v"), client.get("records", b"k"), return_exceptions=True
                )
                await client.close()
        finally:
            await server.stop(None)
        assert isinstance(write, ClientError) and isinstance(read, ClientError)
        assert write.code == read.code == "DEADLINE_EXCEEDED"
        assert "outcome is unknown" in write.message and not write.retryable
        assert read.retryable and "outcome" not in read.message

    asyncio.run(scenario())


def test_a_broken_stream_fails_its_calls_and_the_next_call_opens_another() -> None:
    async def scenario() -> None:
        servicer = StandIn(breaks=1)
        server, address = await start_stand_in(servicer)
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                client = StreamingClient(channel, address, timeout=10.0)
                with pytest.raises(ClientError) as broken:
                    await client.put("records", b"k", b"v")
                status = await client.status(m.TxRef(1, 1))
                await client.close()
        finally:
            await server.stop(None)
        assert broken.value.code == "UNAVAILABLE" and not broken.value.retryable
        assert "the stand-in went away (the outcome is unknown)" in broken.value.message
        assert status.status is TxStatus.PENDING
        assert servicer.calls_seen == 2

    asyncio.run(scenario())
