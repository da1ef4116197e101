"""The fault proxy between a client and an echo server, on real loopback sockets.

No timed assertions: every wait polls a condition under a deadline, and "nothing got through" is checked
only after the proxy has provably read the bytes it is holding.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node.fault_proxy import Direction, FaultProxy, NonLoopbackAddress

DEADLINE = 5.0


class EchoServer:
    """Echoes every byte back on the same connection; remembers what it received and how many clients."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._echo, "127.0.0.1", 0, ssl=ssl_context)
        return "127.0.0.1", self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while chunk := await reader.read(65536):
                self.received += chunk
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Polls `condition` until it holds; fails after the deadline (a bound, never a measured time)."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE
    while not condition():
        if loop.time() > give_up:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        await asyncio.sleep(0.001)


async def read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(size), DEADLINE)


async def proxy_has_read(proxy: FaultProxy, direction: Direction, size: int) -> None:
    """Waits until the proxy has read `size` bytes in `direction` (forwarded or held)."""
    await eventually(
        lambda: proxy.bytes_received(direction) == size, f"the proxy read {size} bytes {direction}"
    )


def run(scenario: Callable[[FaultProxy, EchoServer], Awaitable[None]], *, tap: bool = False) -> None:
    """Runs `scenario` with a started proxy in front of a started echo server, then stops both."""

    async def main() -> None:
        echo = EchoServer()
        target = await echo.start()
        proxy = FaultProxy(target=target, tap=tap)
        await proxy.start()
        try:
            await asyncio.wait_for(scenario(proxy, echo), 4 * DEADLINE)
        finally:
            await proxy.stop()
            await echo.stop()

    run_checking_loop_errors(main)


def run_checking_loop_errors(main: Callable[[], Coroutine[None, None, None]]) -> None:
    """asyncio.run, failing the test if a task or callback raised into the event loop's error handler."""
    errors: list[str] = []

    async def checked() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context["message"]))
        await main()

    asyncio.run(checked())
    assert errors == []


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*proxy.address)
    await eventually(lambda: proxy.connection_count >= 1, "the proxy accepted the connection")
    return reader, writer


def test_bytes_pass_both_ways_and_are_counted_and_tapped() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        assert proxy.port > 0
        reader, writer = await connect(proxy)
        writer.write(b"hello through the proxy")
        assert await read_exactly(reader, 23) == b"hello through the proxy"
        assert proxy.bytes_forwarded("forward") == proxy.bytes_forwarded("backward") == 23
        assert proxy.captured("forward") == proxy.captured("backward") == b"hello through the proxy"
        writer.close()

    run(scenario, tap=True)


def test_a_cut_holds_the_bytes_and_heal_delivers_them() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await connect(proxy)
        writer.write(b"warm up")
        assert await read_exactly(reader, 7) == b"warm up"

        proxy.cut()
        writer.write(b"during the partition")
        await proxy_has_read(proxy, "forward", 7 + 20)
        assert proxy.bytes_forwarded("forward") == 7
        assert bytes(echo.received) == b"warm up"

        proxy.heal()
        assert await read_exactly(reader, 20) == b"during the partition"
        writer.close()

    run(scenario)


def test_a_one_way_cut_lets_requests_through_and_holds_the_answers() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await connect(proxy)
        proxy.cut_direction("backward")
        writer.write(b"request")
        await eventually(lambda: bytes(echo.received) == b"request", "the request reached the target")
        await proxy_has_read(proxy, "backward", 7)
        assert proxy.bytes_forwarded("backward") == 0

        proxy.heal()
        assert await read_exactly(reader, 7) == b"request"
        writer.close()

    run(scenario)


def test_a_forward_cut_holds_requests_and_even_new_connections() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        proxy.cut_direction("forward")
        reader, writer = await connect(proxy)
        writer.write(b"request")
        # Accepted, but held before connecting to the target, as a SYN would be by a partition.
        assert echo.connections == 0
        assert proxy.bytes_received("forward") == 0

        proxy.heal()
        assert await read_exactly(reader, 7) == b"request"
        assert echo.connections == 1
        writer.close()

    run(scenario)


def test_a_delay_with_jitter_keeps_the_order_of_the_stream() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        proxy.delay(0.002, jitter=0.01, seed=7)
        reader, writer = await connect(proxy)
        messages = [f"<message {i:03}>".encode() for i in range(40)]
        for count, message in enumerate(messages, start=1):
            writer.write(message)
            await proxy_has_read(proxy, "forward", count * len(message))  # one chunk, one jittered delay
        expected = b"".join(messages)
        assert await read_exactly(reader, len(expected)) == expected
        writer.close()

    run(scenario)


def test_a_delay_holds_the_bytes_until_it_has_passed() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        _, writer = await connect(proxy)
        proxy.delay(3600.0, direction="forward")
        writer.write(b"slow")
        await proxy_has_read(proxy, "forward", 4)
        assert proxy.bytes_forwarded("forward") == 0
        assert bytes(echo.received) == b""
        writer.close()

    run(scenario)


def test_drop_connections_resets_them_and_new_connections_work() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await connect(proxy)
        writer.write(b"before")
        assert await read_exactly(reader, 6) == b"before"

        proxy.drop_connections()
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await read_exactly(reader, 1)
        assert proxy.connection_count == 0
        writer.close()

        reader, writer = await connect(proxy)
        writer.write(b"after")
        assert await read_exactly(reader, 5) == b"after"
        writer.close()

    run(scenario)


def test_a_cut_with_reset_drops_open_connections_and_holds_new_ones() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await connect(proxy)
        proxy.cut(reset=True)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await read_exactly(reader, 1)
        writer.close()

        reader, writer = await connect(proxy)
        writer.write(b"retry")
        proxy.heal()
        assert await read_exactly(reader, 5) == b"retry"
        writer.close()

    run(scenario)


def test_refusing_a_sender_resets_its_connections_old_and_new_and_spares_the_others() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        refused_reader, refused_writer = await connect(proxy)
        other_reader, other_writer = await asyncio.open_connection(*proxy.address)
        await eventually(lambda: proxy.connection_count == 2, "the proxy accepted both connections")
        refused_port = refused_writer.get_extra_info("sockname")[1]

        proxy.refuse_from(lambda address: address == ("127.0.0.1", refused_port))
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await read_exactly(refused_reader, 1)
        other_writer.write(b"still through")
        assert await read_exactly(other_reader, 13) == b"still through"
        # a new connection from a refused address is reset as soon as it is accepted
        proxy.refuse_from(lambda address: address[0] == "127.0.0.1")
        again_reader, again_writer = await asyncio.open_connection(*proxy.address)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await read_exactly(again_reader, 1)

        proxy.refuse_from(None)
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"after")
        assert await read_exactly(reader, 5) == b"after"
        for opened in (refused_writer, other_writer, again_writer, writer):
            opened.close()

    run(scenario)


def test_a_half_close_is_passed_on_and_the_connection_ends_in_order() -> None:
    async def scenario(proxy: FaultProxy, echo: EchoServer) -> None:
        reader, writer = await connect(proxy)
        writer.write(b"last words")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), DEADLINE) == b"last words"  # then EOF
        await eventually(lambda: proxy.connection_count == 0, "the proxy closed the connection")
        writer.close()

    run(scenario)


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) TLS contexts for "localhost" with a throwaway self-signed certificate."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA384())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return server, ssl.create_default_context(cadata=cert_pem.decode("ascii"))


def test_tls_passes_through_unchanged_and_the_tap_sees_only_ciphertext(tmp_path: Path) -> None:
    server_context, client_context = self_signed_tls(tmp_path)

    async def main() -> None:
        echo = EchoServer()
        async with FaultProxy(target=await echo.start(server_context), tap=True) as proxy:
            reader, writer = await asyncio.open_connection(
                *proxy.address, ssl=client_context, server_hostname="localhost"
            )
            writer.write(b"a confidential request")
            assert await read_exactly(reader, 22) == b"a confidential request"
            assert b"confidential" not in proxy.captured("forward") + proxy.captured("backward")
            writer.close()
        await echo.stop()

    run_checking_loop_errors(main)


@pytest.mark.parametrize(
    ("listen_host", "target_host"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("10.1.2.3", "127.0.0.1"),
        ("localhost", "127.0.0.1"),  # may be two sockets on two ports
        ("127.0.0.1", "8.8.8.8"),
        ("127.0.0.1", "example.com"),
    ],
)
def test_an_address_that_is_not_a_loopback_address_is_refused(listen_host: str, target_host: str) -> None:
    with pytest.raises(NonLoopbackAddress):
        FaultProxy(listen_host, target=(target_host, 50051))


@pytest.mark.parametrize(("listen_host", "target_host"), [("127.0.0.2", "localhost"), ("::1", "::1")])
def test_loopback_addresses_are_accepted(listen_host: str, target_host: str) -> None:
    FaultProxy(listen_host, target=(target_host, 50051))
