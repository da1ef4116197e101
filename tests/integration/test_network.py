"""A real 3-node network on loopback: writes through any node, a primary killed under load, a late joiner.

Each scenario ends with the ledger invariant: byte-identical committed ledgers, each verified offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from enclave.crypto.keys import private_key_pem
from enclave.runtime import messages as m
from enclave.runtime.node_secrets import NodeSecrets
from node.config import Address, Endpoint
from node.platform_files import open_machine_platform
from sealchain.cli import cli
from sealchain.client import TxStatus
from tests.integration.cluster import Cluster, Writer, read_everywhere
from tests.integration.proxies import ProxyThread, free_port

pytestmark = pytest.mark.slow

StartCluster = Callable[..., Cluster]


def test_writes_through_any_node_are_committed_readable_everywhere_and_have_receipts(
    start_cluster: StartCluster, tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=3)
    written: dict[bytes, bytes] = {}
    last_txid = m.TxRef(0, 0)

    for name in cluster.names:
        with cluster.client([name]) as client:
            for i in range(3):
                key, value = f"{name}-{i}".encode(), f"value {i} via {name}".encode()
                result = client.put("records", key, value)
                assert result.status is TxStatus.COMMITTED
                written[key] = value
                last_txid = max(last_txid, result.txid, key=lambda txid: txid.seqno)
            assert client.get("records", b"absent").value is None

    read_everywhere(cluster, written, last_txid.seqno)
    receipt_file = tmp_path / "receipt.json"
    with cluster.client([cluster.names[-1]]) as client:
        receipt_file.write_text(client.receipt(last_txid).receipt_json)
    verified = CliRunner().invoke(
        cli, ["receipt", "verify", str(receipt_file), "--service-cert", str(cluster.workspace.service_cert)]
    )
    assert verified.exit_code == 0, verified.output
    cluster.stop()
    assert cluster.check_ledgers() >= last_txid.seqno


def test_primary_killed_under_load_loses_no_committed_write_and_rejoins(start_cluster: StartCluster) -> None:
    cluster = start_cluster(nodes=3)
    old_primary = cluster.primary()
    writer = Writer(cluster)
    writer.start()
    try:
        writer.wait_for_commits(20)
        cluster.kill(old_primary)
        survivors = [name for name in cluster.names if name != old_primary]
        new_primary = cluster.primary(among=survivors)
        committed_before = len(writer.committed)
        writer.wait_for_commits(committed_before + 20)
    finally:
        writer.stop_writing.set()
        writer.join(timeout=30)

    assert new_primary != old_primary
    cluster.restart(old_primary)
    cluster.wait_until(old_primary, "the old primary to follow", lambda r: r.role == "follower")
    read_everywhere(cluster, writer.committed, writer.highest_seqno)
    rejoined = cluster.status(old_primary)
    assert rejoined is not None and rejoined.state is m.LifecycleState.TRUSTED
    cluster.stop()
    assert cluster.check_ledgers() >= writer.highest_seqno


def host_visible_bytes(cluster: Cluster) -> bytes:
    """Every file in the workspace except the members' and users' own private keys (theirs, not the
    host's), node logs included."""
    own_keys = {
        *cluster.workspace.root.glob("members/*_privk.pem"),
        *cluster.workspace.root.glob("users/*_privk.pem"),
    }
    files = [path for path in cluster.workspace.root.rglob("*") if path.is_file() and path not in own_keys]
    return b"".join(path.read_bytes() for path in files)


def unsealed_secrets(cluster: Cluster, name: str) -> NodeSecrets:
    """What the node's enclave sealed, unsealed as the enclave would (the test plays the TEE)."""
    config = cluster.local.nodes[name].config()
    platform = open_machine_platform(config.path(config.platform_dir), config.machine, config.backend)
    return NodeSecrets.unseal(platform, config.path(config.sealed_secrets).read_bytes())


def test_a_fourth_node_joins_and_no_secret_is_visible_to_hosts(start_cluster: StartCluster) -> None:
    cluster = start_cluster(nodes=3, spare_machines=1)
    private_key, private_value = b"PRIVATE-KEY-5e1f", b"PRIVATE-VALUE-a93c"
    with cluster.client() as client:
        before = client.put("records", private_key + b"-before", private_value)

    with ProxyThread() as proxies:
        bound = Address("127.0.0.1", free_port())
        advertised = proxies.start(bound, tap=True)  # every peer connection to node3 goes through it
        cluster.join("node3", cluster.join_address("node0"), Endpoint(bound, advertised))
        cluster.trust("node3")  # the service is open: a new node waits for the operator (governance)
        cluster.wait_open("node3")
        with cluster.client(["node3"]) as client:
            after = client.put("records", private_key + b"-after", private_value)  # forwarded to the primary
        assert after.status is TxStatus.COMMITTED
        written = {private_key + b"-before": private_value, private_key + b"-after": private_value}
        read_everywhere(cluster, written, after.txid.seqno)
        traffic = proxies.captured(advertised, "forward") + proxies.captured(advertised, "backward")

    assert before.txid.seqno < after.txid.seqno
    cluster.stop()
    cluster.check_ledgers()
    assert len(traffic) > 0
    visible = host_visible_bytes(cluster) + traffic
    secrets = unsealed_secrets(cluster, "node3")
    ledger_secrets = [secret.key for _, secret in secrets.ledger_secrets.versions()]
    for secret in (private_key, private_value, secrets.state_key, *ledger_secrets):
        assert secret not in visible
        assert secret.hex().encode() not in visible
    assert private_key_pem(secrets.node.key).encode() not in visible  # the node's TLS key is never written


def test_node_logs_are_one_json_object_per_line(start_cluster: StartCluster) -> None:
    cluster = start_cluster(nodes=1)
    with cluster.client() as client:
        client.put("records", b"k", b"v")
    cluster.stop()
    cluster.check_ledgers()
    for name in cluster.names:
        lines = (cluster.local.node_dir(name) / "node.log").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        assert all({"ts", "level", "event"} <= event.keys() for event in events)
        assert {"starting", "listening", "stopped"} <= {event["event"] for event in events}


def test_two_networks_on_one_machine_do_not_clash(start_cluster: StartCluster) -> None:
    first, second = start_cluster(nodes=1), start_cluster(nodes=1)
    with first.client() as one, second.client() as other:
        assert one.put("records", b"k", b"first").status is TxStatus.COMMITTED
        assert other.put("records", b"k", b"second").status is TxStatus.COMMITTED
        assert one.get("records", b"k").value == b"first"
        assert other.get("records", b"k").value == b"second"
    first.stop()
    second.stop()
    first.check_ledgers()
    second.check_ledgers()
