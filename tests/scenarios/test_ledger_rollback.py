"""A host that rolls a node's files back to an older copy (DESIGN.md section 2: the host's disk and
process control are untrusted): the node's ledger, key-value state and Raft state are replaced by a copy
taken before later writes committed, and it is restarted.

The rolled-back node must neither lead nor serve its stale view as current. Its rollback matters most
when the up-to-date primary is gone: the node restarts alone (it cannot serve a linearizable read, having
no primary), then the one other up-to-date node restarts and must win the election, since Raft's vote
goes only to a log at least as up to date as the voter's (Raft 5.4.1; CCF compares the last committable
entries). Every committed write survives and the ledgers agree once all three run again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from node.network import is_primary
from sealchain.client import ClientError, Consistency
from tests.integration.cluster import Cluster, read_everywhere

pytestmark = pytest.mark.slow

LATER_WRITES = 40


def node_files(cluster: Cluster, name: str) -> list[Path]:
    """What a restart reads: the ledger, the key-value state and the Raft state."""
    config = cluster.local.nodes[name].config()
    return [config.path(config.ledger_dir), config.path(config.state_dir), config.path(config.raft_state)]


def copy_files(paths: list[Path], into: Path) -> None:
    into.mkdir()
    for path in paths:
        if path.is_dir():
            shutil.copytree(path, into / path.name)
        else:
            shutil.copy2(path, into / path.name)


def roll_back(paths: list[Path], copy: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
            shutil.copytree(copy / path.name, path)
        else:
            shutil.copy2(copy / path.name, path)


def test_a_rolled_back_node_neither_leads_nor_serves_its_stale_view(
    start_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = start_cluster(nodes=3)
    with cluster.client() as client:
        client.put("records", b"key", b"old")
    primary = cluster.primary()
    rolled_back, up_to_date = [name for name in cluster.names if name != primary]

    cluster.kill(rolled_back)
    copy_files(node_files(cluster, rolled_back), tmp_path / "old_copy")
    cluster.restart(rolled_back)
    written = {b"key": b"new"} | {b"later-%d" % i: b"value-%d" % i for i in range(LATER_WRITES)}
    with cluster.client() as client:
        seqnos = {key: client.put("records", key, value).txid.seqno for key, value in written.items()}
    last = max(seqnos.values())
    read_everywhere(cluster, written, last)

    cluster.kill(rolled_back)
    roll_back(node_files(cluster, rolled_back), tmp_path / "old_copy")
    cluster.kill(primary)
    cluster.kill(up_to_date)
    cluster.restart(rolled_back)
    cluster.wait_until(rolled_back, "its campaign", lambda r: r.role in ("pre-candidate", "candidate"))
    with cluster.client([rolled_back], timeout=3.0) as client:
        with pytest.raises(ClientError):
            client.get("records", b"key")  # its own state says "old": it has no primary to confirm a read
        local = client.get("records", b"key", consistency=Consistency.LOCAL)
    # A local read may be stale, and says so: the state it reflects is older than the overwrite.
    assert local.value == b"old" and local.txid.seqno < seqnos[b"key"], local

    cluster.restart(up_to_date)
    assert cluster.primary(among=[rolled_back, up_to_date]) == up_to_date
    report = cluster.status(rolled_back)
    assert report is not None and not is_primary(report)
    with cluster.client([rolled_back]) as client:
        assert client.get("records", b"key").value == b"new"
    cluster.restart(primary)
    read_everywhere(cluster, written, last)
    cluster.stop()
    cluster.check_ledgers()
