"""What the transports cost on this machine, without sealchain's work: the floor under `scripts/bench`.

A server process (grpc.aio and an asyncio TLS listener, mutual TLS on loopback) and this process as the
client measure, per operation, the CPU both processes spend:
- a unary call (the client API's shape: `Client.Put` with a 100-byte value, answered with an empty
  `WriteResponse`), N outstanding at a time;
- the same put through `StreamingClient` and the node's `Client.Stream` server (answered at once), N
  outstanding on 3 streams (the load generator's count) and on N streams (one call per message);
- one message of a gRPC client stream (how the peer links sent frames until they moved to plain TLS), a
  frame each, written on its own, paced at `--rate` a second as a link writes when the node drains (back
  to back, gRPC and the kernel would coalesce them, which a node under load does not see);
- one length-prefixed frame on a plain asyncio TLS connection (the peer links' transport now), the same
  way.
The client's CPU includes the pacing's sleeps (the same for both transports); the server's does not.
docs/performance.md uses the figures to say what a put must cost at least.

    scripts/bench-grpc [--calls N] [--concurrency C] [--messages M] [--rate R] [--frame-bytes B]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from enclave.runtime import messages as m
from node.rpc.client_stream import serve_stream
from node.rpc.peer_tls import FrameDecoder, encode_frames
from proto.sealchain.v1 import client_pb2, client_pb2_grpc
from sealchain.benchmark.runner import cpu_seconds
from sealchain.identities import generate_identity
from sealchain.streaming import StreamingClient

_DONE = b""  # an empty frame: the client sent everything; the server answers one byte once it has read all


# -- the server process -------------------------------------------------------------------------------


_WRITTEN = m.WriteResult(m.TxRef(2, 1), m.TxStatus.COMMITTED)


class _Client(client_pb2_grpc.ClientServicer):
    async def Put(
        self, request: client_pb2.PutRequest, context: grpc.aio.ServicerContext
    ) -> client_pb2.WriteResponse:
        return client_pb2.WriteResponse()

    async def Stream(
        self, requests: AsyncIterator[client_pb2.StreamRequest], context: grpc.aio.ServicerContext
    ) -> None:
        """The node's own stream server, with every put answered at once instead of by a host."""

        async def written(call: m.ClientCall) -> m.CallResult:
            return _WRITTEN

        await serve_stream(written, requests, context.write)


async def _read_stream(request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    async for _ in request_iterator:
        pass
    return b""


# A client stream of raw frames, as the peer links were before they left gRPC (no .proto: bytes in, bytes
# out), kept to compare the two transports.
STREAM_SERVICE, STREAM_METHOD = "bench.Frames", "/bench.Frames/Stream"


async def _read_frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Decodes frames as the peer port does until the empty one, then answers a byte."""
    decoder = FrameDecoder()
    while (data := await reader.read(1 << 16)) and _DONE not in decoder.feed(data):
        pass
    writer.write(b"1")
    await writer.drain()
    writer.close()


async def serve(folder: Path) -> None:
    """Listens on loopback, prints the two ports as JSON, and serves until killed."""
    cert_pem, key_pem = (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()
    server = grpc.aio.server()
    client_pb2_grpc.add_ClientServicer_to_server(_Client(), server)  # type: ignore[no-untyped-call]
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                STREAM_SERVICE, {"Stream": grpc.stream_unary_rpc_method_handler(_read_stream)}
            ),
        )
    )
    credentials = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=cert_pem, require_client_auth=True
    )
    grpc_port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    context.load_verify_locations(folder / "cert.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    tls = await asyncio.start_server(_read_frames, "127.0.0.1", 0, ssl=context)
    tls_port = tls.sockets[0].getsockname()[1]
    print(json.dumps({"grpc": grpc_port, "tls": tls_port}), flush=True)
    await server.wait_for_termination()


# -- the client (this process) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    what: str
    operations: int
    seconds: float
    client_cpu: float
    server_cpu: float
    latencies: list[float]

    def row(self) -> str:
        per_op = 1e6 / self.operations
        latency = (
            ""
            if not self.latencies
            else "  ".join(
                f"{statistics.quantiles(self.latencies, n=100)[p - 1] * 1e3:6.2f}" for p in (50, 99)
            )
        )
        return (
            f"{self.what:<36} {self.operations:>7} {self.operations / self.seconds:>9,.0f}"
            f" {self.client_cpu * per_op:>11.0f} {self.server_cpu * per_op:>11.0f}  {latency}"
        )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _paced(messages: int, rate: float, write: Callable[[], Awaitable[None]]) -> None:
    start = time.perf_counter()
    for sent in range(messages):
        await write()
        ahead = start + (sent + 1) / rate - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def _measured(
    what: str, server_pid: int, operations: int, run: Callable[[list[float]], Awaitable[None]]
) -> Figures:
    latencies: list[float] = []
    client_before, server_before, start = _own_cpu(), cpu_seconds([server_pid]), time.perf_counter()
    await run(latencies)
    seconds = time.perf_counter() - start
    return Figures(
        what,
        operations,
        seconds,
        _own_cpu() - client_before,
        cpu_seconds([server_pid]) - server_before,
        latencies,
    )


_KEY, _VALUE = b"k" * 16, b"v" * 100  # a put as the client API benchmark makes it


def _closed_loop(
    calls: int, concurrency: int, call: Callable[[int], Awaitable[object]]
) -> Callable[[list[float]], Awaitable[None]]:
    """A run of `calls` calls, `concurrency` callers each making its share one after another (caller
    `i` with `call(i)`), recording every call's latency."""

    async def run(latencies: list[float]) -> None:
        async def caller(index: int, count: int) -> None:
            for _ in range(count):
                sent = time.perf_counter()
                await call(index)
                latencies.append(time.perf_counter() - sent)

        share, extra = divmod(calls, concurrency)
        await asyncio.gather(*(caller(i, share + (i < extra)) for i in range(concurrency)))

    return run


async def unary_calls(channel: grpc.aio.Channel, server_pid: int, calls: int, concurrency: int) -> Figures:
    stub = client_pb2_grpc.ClientStub(channel)  # type: ignore[no-untyped-call]
    request = client_pb2.PutRequest(map="bench", key=_KEY, value=_VALUE)
    await stub.Put(request)  # the connection is up before the clock starts
    run = _closed_loop(calls, concurrency, lambda caller: stub.Put(request))
    return await _measured(f"gRPC unary call, {concurrency} outstanding", server_pid, calls, run)


async def streamed_calls(
    channel: grpc.aio.Channel, server_pid: int, calls: int, concurrency: int, streams: int
) -> Figures:
    """`calls` puts, `concurrency` outstanding, through `streams` `StreamingClient`s (the load generator
    has one per node and process: 3 for one process and 3 nodes)."""
    clients = [StreamingClient(channel, "bench") for _ in range(streams)]
    await asyncio.gather(*(client.put("bench", _KEY, _VALUE) for client in clients))

    def put(caller: int) -> Awaitable[object]:
        return clients[caller % streams].put("bench", _KEY, _VALUE)

    run = _closed_loop(calls, concurrency, put)
    figures = await _measured(f"Client.Stream call, {concurrency} out, {streams} str", server_pid, calls, run)
    for client in clients:
        await client.close()
    return figures


async def stream_messages(
    channel: grpc.aio.Channel, server_pid: int, messages: int, rate: float, frame: bytes
) -> Figures:
    call = channel.stream_unary(STREAM_METHOD)()
    await call.write(frame)

    async def run(latencies: list[float]) -> None:
        await _paced(messages, rate, lambda: call.write(frame))
        await call.done_writing()
        await call

    return await _measured(f"gRPC stream message, {len(frame)} B", server_pid, messages, run)


async def tls_frames(
    port: int, folder: Path, server_pid: int, *, messages: int, rate: float, frame: bytes
) -> Figures:
    context = ssl.create_default_context(cafile=folder / "cert.pem")
    context.check_hostname = False  # the certificate names no host (gRPC's override checks its name)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost"
    )
    framed = encode_frames([frame])

    async def write() -> None:
        writer.write(framed)
        await writer.drain()

    async def run(latencies: list[float]) -> None:
        await _paced(messages, rate, write)
        writer.write(encode_frames([_DONE]))
        await reader.readexactly(1)

    figures = await _measured(f"asyncio TLS frame, {len(frame)} B", server_pid, messages, run)
    writer.close()
    return figures


async def measure(arguments: argparse.Namespace, folder: Path, server: subprocess.Popen[bytes]) -> None:
    assert server.stdout is not None
    ports = json.loads(server.stdout.readline())
    cert_pem, key_pem = (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()
    credentials = grpc.ssl_channel_credentials(cert_pem, key_pem, cert_pem)
    options = [("grpc.ssl_target_name_override", "localhost")]
    frame = os.urandom(arguments.frame_bytes)
    results = []
    async with grpc.aio.secure_channel(f"127.0.0.1:{ports['grpc']}", credentials, options) as channel:
        results.append(await unary_calls(channel, server.pid, arguments.calls, arguments.concurrency))
        for streams in (3, arguments.concurrency):  # the load generator's count, and one call per message
            results.append(
                await streamed_calls(channel, server.pid, arguments.calls, arguments.concurrency, streams)
            )
        results.append(await stream_messages(channel, server.pid, arguments.messages, arguments.rate, frame))
    results.append(
        await tls_frames(
            ports["tls"], folder, server.pid, messages=arguments.messages, rate=arguments.rate, frame=frame
        )
    )
    print(f"transport costs on this machine (mutual TLS on loopback, cpus {os.cpu_count()})")
    print(f"{'operation':<36} {'ops':>7} {'ops/s':>9} {'client us':>11} {'server us':>11}  p50 ms  p99 ms")
    for figures in results:
        print(figures.row())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=2000.0, help="stream messages and frames a second")
    parser.add_argument("--frame-bytes", type=int, default=600)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve is not None:
        asyncio.run(serve(arguments.serve))
        return
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as name:
        folder = Path(name)
        # One certificate for both ends and as their trust root: the costs measured are TLS's, not PKI's.
        identity = generate_identity("localhost", with_encryption_key=False)
        (folder / "cert.pem").write_bytes(identity.cert_pem)
        (folder / "key.pem").write_bytes(identity.private_key_pem)
        (folder / "key.pem").chmod(0o600)
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(folder)], stdout=subprocess.PIPE)
        try:
            asyncio.run(measure(arguments, folder, server))
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
