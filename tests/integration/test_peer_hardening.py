"""An attacker on a node's peer-facing ports (DESIGN.md section 2: the network is untrusted).

It streams well-formed `PeerFrame`s (garbage channel bytes, a handshake INIT it produced itself with its
own key, replays of it, some claiming a real peer's id) twice: to the peer port presenting a node
certificate endorsed by another service (the TLS handshake fails), and to the join port, where no client
certificate is asked for (the stream is refused). Then it replays, byte for byte on a fresh TCP
connection, everything the other nodes sent to the node's peer port (captured by a tapping proxy): the
TLS handshake fails and the connection is closed. Nothing reaches the enclave: the node changes nothing
(term, commit and primary stay as they were, it still serves writes), answers no frame, and logs the
refused stream.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cryptography import x509

from enclave.crypto.identity import ServiceIdentity
from enclave.crypto.ids import NodeId
from enclave.crypto.keys import identity_key_from_entropy, private_key_pem
from enclave.runtime.channels import Channel
from node.config import Address, Endpoint
from node.network import wait_for
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import node_pb2, node_pb2_grpc
from sealchain.client import TxStatus
from tests.integration.cluster import Cluster
from tests.integration.proxies import ProxyThread, free_port

pytestmark = pytest.mark.slow


def quiet_state(cluster: Cluster) -> dict[str, tuple[int, int, str | None]]:
    """(term, commit seqno, primary) of every node, once all agree and nothing is in flight."""

    def probe() -> dict[str, tuple[int, int, str | None]] | None:
        reports = {name: cluster.status(name) for name in cluster.names}
        if any(r is None or r.last != r.commit for r in reports.values()):
            return None
        state = {name: (r.term, r.commit.seqno, r.primary) for name, r in reports.items() if r is not None}
        return state if len(set(state.values())) == 1 else None

    return wait_for("a quiet cluster", probe, time.monotonic() + 30.0)


def replay(recorded: bytes, address: Address) -> None:
    """Sends `recorded` on a new TCP connection and reads until the node closes it."""
    assert len(recorded) > 1000, "the proxy captured no peer traffic to replay"
    with socket.create_connection((address.host, address.port), timeout=10) as connection:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            connection.sendall(recorded)
        with contextlib.suppress(ConnectionResetError):
            while connection.recv(65536):
                pass


def test_frames_from_a_stranger_never_reach_the_enclave(start_cluster: Callable[..., Cluster]) -> None:
    with ProxyThread() as proxies:
        bound = Address("127.0.0.1", free_port())
        tapped = proxies.start(bound, tap=True)  # every peer connection to node0 goes through it
        cluster = start_cluster(nodes=3, peers={"node0": Endpoint(bound, tapped)})
        attack(cluster, recorded=lambda: proxies.captured(tapped, "forward"), peer_port=bound)


def attack(cluster: Cluster, recorded: Callable[[], bytes], peer_port: Address) -> None:
    target, impersonated = cluster.names[0], cluster.names[1]
    target_report, impersonated_report = cluster.status(target), cluster.status(impersonated)
    assert target_report is not None and target_report.node_id is not None
    assert impersonated_report is not None and impersonated_report.node_id is not None

    now = datetime.now(UTC)
    other_service = ServiceIdentity.create(
        os.urandom(64), not_before=now - timedelta(hours=1), not_after=now + timedelta(days=1)
    )
    stranger = other_service.endorse(
        identity_key_from_entropy(os.urandom(64)),
        ["127.0.0.1"],
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=1),
    )
    channel = Channel(
        stranger,
        NodeId(target_report.node_id),
        x509.load_pem_x509_certificate(other_service.cert_pem.encode()),
        os.urandom,
    )
    handshake = channel.initiate()
    garbage = os.urandom(200)
    tampered = handshake[:-1] + bytes([handshake[-1] ^ 1])  # well-formed, the signature broken
    frames = [
        (stranger.node_id, garbage),
        (stranger.node_id, handshake),
        (stranger.node_id, handshake),  # replayed
        (stranger.node_id, tampered),
        (impersonated_report.node_id, handshake),  # forged sender: a real peer's id
        (impersonated_report.node_id, garbage),
        (impersonated_report.node_id, handshake),  # replayed
        ("not a node id", handshake),
    ]
    before = quiet_state(cluster)

    service_cert = cluster.workspace.service_cert.read_bytes()
    stranger_tls = (stranger.cert_pem.encode(), private_key_pem(stranger.key).encode())
    node_config = cluster.local.nodes[target].config()
    attempts = {
        "peer port": (node_config.peer.advertised, channel_credentials(service_cert, stranger_tls)),
        "join port": (node_config.join_api.advertised, channel_credentials(service_cert, stranger_tls)),
    }
    outcomes = {}
    for port, (address, credentials) in attempts.items():
        with grpc.secure_channel(str(address), credentials) as connection:
            stub = node_pb2_grpc.PeerStub(connection)  # type: ignore[no-untyped-call]
            peer_frames = [
                node_pb2.PeerFrame(from_node_id=sender, channel_frames=[frame]) for sender, frame in frames
            ]
            with pytest.raises(grpc.RpcError) as refused:
                stub.Stream(iter(peer_frames), timeout=10)
            outcomes[port] = refused.value.code()
    assert outcomes == {
        "peer port": grpc.StatusCode.UNAVAILABLE,  # the handshake fails: not endorsed by the service
        "join port": grpc.StatusCode.UNAUTHENTICATED,
    }

    cluster.wait_for_log(target, "the refused stream", lambda event: event["event"] == "peer stream refused")
    replay(recorded(), peer_port)
    assert not any("PeerMessage" in str(event["event"]) for event in cluster.log_events(target))
    assert quiet_state(cluster) == before
    with cluster.client([target]) as client:
        assert client.put("records", b"after", b"the attack").status is TxStatus.COMMITTED
    cluster.stop()
    cluster.check_ledgers()
