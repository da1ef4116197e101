"""An attacker on a node's peer-facing ports (DESIGN.md section 2: the network is untrusted).

It sends well-formed frames (garbage channel bytes, a handshake INIT it produced itself with its own key,
replays of it) twice, over TLS presenting a node certificate endorsed by another service: to the peer port
(the node refuses the certificate and closes the connection) and to the join port, which asks for no
client certificate but speaks only gRPC (the connection is closed). Then it replays, byte for byte on a
fresh TCP connection, everything the other nodes sent to the node's peer port (captured by a tapping
proxy): the TLS handshake fails and the connection is closed. Nothing reaches the enclave: the node
changes nothing (term, commit and primary stay as they were, it still serves writes), answers no frame,
and logs the refused connection.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from enclave.crypto.identity import ServiceIdentity
from enclave.crypto.ids import NodeId
from enclave.crypto.keys import identity_key_from_entropy, private_key_pem
from enclave.runtime.channels import Channel
from node.config import Address, Endpoint
from node.network import wait_for
from node.rpc.peer_tls import encode_frames, peer_tls_context
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


def closed_by_the_node(address: Address, context: ssl.SSLContext, data: bytes) -> bool:
    """Sends `data` over TLS on a new connection; True once the node has closed it (or refused the
    handshake), False if it is still open after 10 s."""
    with socket.create_connection((address.host, address.port), timeout=10) as connection:
        try:
            with context.wrap_socket(connection) as tls:
                tls.sendall(data)
                return tls.recv(1) == b""
        except (ssl.SSLError, ConnectionError):
            return True
        except TimeoutError:
            return False


def test_frames_from_a_stranger_never_reach_the_enclave(start_cluster: Callable[..., Cluster]) -> None:
    with ProxyThread() as proxies:
        bound = Address("127.0.0.1", free_port())
        tapped = proxies.start(bound, tap=True)  # every peer connection to node0 goes through it
        cluster = start_cluster(nodes=3, peers={"node0": Endpoint(bound, tapped)})
        attack(cluster, recorded=lambda: proxies.captured(tapped, "forward"), peer_port=bound)


def attack(cluster: Cluster, recorded: Callable[[], bytes], peer_port: Address) -> None:
    target = cluster.names[0]
    target_report = cluster.status(target)
    assert target_report is not None and target_report.node_id is not None

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
    frames = encode_frames([garbage, handshake, handshake, tampered, garbage, handshake])  # with replays
    before = quiet_state(cluster)

    # The stranger trusts our service's certificate, so it is the node that refuses the stranger.
    as_stranger = peer_tls_context(
        server_side=False,
        cert_pem=stranger.cert_pem.encode(),
        key_pem=private_key_pem(stranger.key).encode(),
        service_cert_pem=cluster.workspace.service_cert.read_bytes(),
    )
    node_config = cluster.local.nodes[target].config()
    assert closed_by_the_node(node_config.peer.advertised, as_stranger, frames)
    assert closed_by_the_node(node_config.join_api.advertised, as_stranger, frames)
    cluster.wait_for_log(
        target, "the refused connection", lambda event: event["event"] == "peer connection refused"
    )

    replay(recorded(), peer_port)
    assert not any("PeerMessage" in str(event["event"]) for event in cluster.log_events(target))
    assert quiet_state(cluster) == before
    with cluster.client([target]) as client:
        assert client.put("records", b"after", b"the attack").status is TxStatus.COMMITTED
    cluster.stop()
    cluster.check_ledgers()
