"""The peer port and the peer links (node/rpc/peer_server.py, peer_links.py, peer_tls.py) over real TLS on
loopback: frames get through only between nodes the service endorsed, each in the name its certificate
holds, in order, whatever pieces TCP cuts them into; a link talks only to the node it dialled; a frame
over the size limit closes the connection; the node's key never lands in a file."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from node.config import Address
from node.rpc.peer_links import PeerLinks
from node.rpc.peer_server import PeerServer
from node.rpc.peer_tls import MAX_FRAME_BYTES, FrameDecoder, FrameError, encode_frames, peer_tls_context
from node.rpc.servers import NodeHandlers, NodeServers
from tests.node.node_identities import node, pem_pair, service

LOOPBACK = Address("127.0.0.1", 0)


def dialling_as(identity: NodeIdentity, trusted: ServiceIdentity) -> ssl.SSLContext:
    cert_pem, key_pem = pem_pair(identity)
    return peer_tls_context(
        server_side=False, cert_pem=cert_pem, key_pem=key_pem, service_cert_pem=trusted.cert_pem.encode()
    )


class PeerFramesOnly:
    """The servers' handlers as far as peer frames go; any other call is a test failure."""

    def __init__(self, deliver: Callable[[str, bytes], None]) -> None:
        self.peer_frame = deliver

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call to {name}")


class Delivered:
    """What reached the host, as (sender, frame), in order."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []

    def __call__(self, sender: str, frame: bytes) -> None:
        self.frames.append((sender, frame))

    async def wait_for(self, count: int) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + 10
        while len(self.frames) < count:
            assert time.monotonic() < deadline, f"{len(self.frames)} of {count} frames arrived"
            await asyncio.sleep(0.01)
        return self.frames


async def closed_by_the_node(port: int, context: ssl.SSLContext, data: bytes) -> bool:
    """Writes `data` on a new connection; True once the node has closed (or refused) it, False if it is
    still open after 10 s."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1), timeout=10) == b""
    except (ssl.SSLError, ConnectionError):
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


def test_the_peer_port_takes_frames_only_from_nodes_the_service_endorsed_in_their_own_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours, theirs = service(b"s"), service(b"t")
    this, peer, foreign = node(ours, b"a"), node(ours, b"b"), node(theirs, b"d")
    delivered = Delivered()
    handlers = cast(NodeHandlers, PeerFramesOnly(delivered))

    async def scenario() -> list[bool]:
        servers = NodeServers(handlers, client_roots=None)
        ports = await servers.start(LOOPBACK, LOOPBACK, LOOPBACK, LOOPBACK)
        frames = encode_frames([b"one", b"two"])
        try:
            # Before the node has its identity, then with it.
            closed = [await closed_by_the_node(ports.peer, dialling_as(peer, ours), frames)]
            servers.set_identity(*pem_pair(this), ours.cert_pem.encode())
            _, writer = await asyncio.open_connection("127.0.0.1", ports.peer, ssl=dialling_as(peer, ours))
            for piece in (frames[:2], frames[2:9], frames[9:]):  # TCP may cut frames anywhere
                writer.write(piece)
                await writer.drain()
            await delivered.wait_for(2)
            writer.close()
            closed += [
                await closed_by_the_node(ports.peer, dialling_as(foreign, ours), frames),
                await closed_by_the_node(ports.join, dialling_as(peer, ours), frames),  # gRPC only there
            ]
            return closed
        finally:
            await servers.stop(grace_seconds=0)

    with caplog.at_level(logging.INFO):
        assert asyncio.run(scenario()) == [True, True, True]
    assert delivered.frames == [(peer.node_id, b"one"), (peer.node_id, b"two")]
    refusals = [
        (record.levelno, record.__dict__["fields"]["reason"])  # log_event's fields
        for record in caplog.records
        if record.msg == "peer connection refused"
    ]
    assert len(refusals) == 2
    assert refusals[0] == (logging.INFO, "this node is not part of a service yet")
    assert refusals[1][0] == logging.WARNING and "certificate verify failed" in refusals[1][1]


def test_a_frame_over_the_size_limit_closes_the_connection_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ours = service(b"s")
    this, peer = node(ours, b"a"), node(ours, b"b")
    delivered = Delivered()

    async def scenario() -> bool:
        server = PeerServer(delivered)
        port = await server.start(LOOPBACK)
        server.set_identity(*pem_pair(this), ours.cert_pem.encode())
        try:
            oversized = struct.pack(">I", MAX_FRAME_BYTES + 1) + b"x" * 100
            return await closed_by_the_node(port, dialling_as(peer, ours), oversized)
        finally:
            await server.stop()

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(scenario())
    assert delivered.frames == []
    assert "peer connection closed" in caplog.text


def test_links_carry_frames_in_order_and_only_to_the_node_they_dialled() -> None:
    ours = service(b"s")
    this, peer, impostor = node(ours, b"a"), node(ours, b"b"), node(ours, b"c")
    at_peer, at_impostor = Delivered(), Delivered()

    async def scenario() -> int:
        sinks = ((peer, at_peer), (impostor, at_impostor))
        servers = {identity.node_id: PeerServer(sink) for identity, sink in sinks}
        ports = {}
        for identity in (peer, impostor):
            ports[identity.node_id] = await servers[identity.node_id].start(LOOPBACK)
            servers[identity.node_id].set_identity(*pem_pair(identity), ours.cert_pem.encode())
        links = PeerLinks()
        try:
            # The impostor's address given as the peer's: endorsed by the service, but not that node.
            links.set_addresses({peer.node_id: f"127.0.0.1:{ports[impostor.node_id]}"})
            links.set_identity(*pem_pair(this), ours.cert_pem.encode())
            links.send(peer.node_id, b"for the peer only")
            await wait_until(lambda: links.link_errors > 0)
            links.set_addresses({peer.node_id: f"127.0.0.1:{ports[peer.node_id]}"})
            for i in range(200):
                links.send(peer.node_id, b"frame %d" % i)
            await at_peer.wait_for(200)
            return links.link_errors
        finally:
            await links.close()
            for server in servers.values():
                await server.stop()

    assert asyncio.run(scenario()) >= 1
    assert at_impostor.frames == []
    assert at_peer.frames == [(this.node_id, b"frame %d" % i) for i in range(200)]


async def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


def test_the_decoder_splits_frames_whatever_the_pieces_and_refuses_oversized_ones() -> None:
    frames = [b"", b"a", os.urandom(300), b"end"]
    data = encode_frames(frames)
    for piece_size in (1, 3, 7, len(data)):
        decoder = FrameDecoder()
        out: list[bytes] = []
        for start in range(0, len(data), piece_size):
            out += decoder.feed(data[start : start + piece_size])
        assert out == frames
    with pytest.raises(FrameError, match="over the limit"):
        FrameDecoder().feed(struct.pack(">I", MAX_FRAME_BYTES + 1))


def test_the_tls_key_goes_through_memory_only(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    identity = node(service(b"s"), b"a")
    descriptors = set(os.listdir("/proc/self/fd"))
    context = dialling_as(identity, service(b"s"))
    assert isinstance(context, ssl.SSLContext)
    assert set(os.listdir("/proc/self/fd")) == descriptors  # the in-memory file is closed again
    assert list(tmp_path.iterdir()) == []
