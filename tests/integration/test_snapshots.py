"""Snapshots on a real network (issue 8; DESIGN.md section 4): the primary snapshots every N transactions;
a joining node and a node that fell far behind start from the snapshot (their ledgers continue after it)
and serve the same state; a snapshot file tampered with on a node's disk is refused at restart."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from enclave.ledger.reading import ledger_chunks
from enclave.snapshots.format import parse_snapshot_file_name
from node.network import wait_for
from sealchain.client import Consistency, TxStatus
from tests.integration.cluster import TEST_CONSENSUS, Cluster

pytestmark = pytest.mark.slow

SNAPSHOT_EVERY = 40
CONSENSUS = replace(TEST_CONSENSUS, snapshot_interval_txs=SNAPSHOT_EVERY)
MAP = "records"  # a private map: its values are encrypted in ledger and snapshot alike


def value(i: int) -> bytes:
    return f"snapshot-secret-{i:05d}".encode().ljust(64, b"#")


def write(cluster: Cluster, first: int, count: int) -> int:
    """Writes keys first..first+count-1 and returns the seqno of the last (committed) one."""
    with cluster.client() as client:
        for i in range(first, first + count - 1):
            client.put(MAP, f"k{i}".encode(), value(i), wait=False)
        last = client.put(MAP, f"k{first + count - 1}".encode(), value(first + count - 1))
    assert last.status is TxStatus.COMMITTED
    return last.txid.seqno


def snapshots_of(cluster: Cluster, name: str) -> list[tuple[int, int]]:
    directory = cluster.local.node_dir(name) / "snapshots"
    if not directory.exists():
        return []
    return sorted(p for p in map(parse_snapshot_file_name, os.listdir(directory)) if p is not None)


def started_from_last_install(cluster: Cluster, name: str) -> int:
    """For a stopped node (a running one may be sent a newer snapshot at any time): its ledger files
    continue the snapshot it last started over from, which it keeps; that snapshot's seqno."""
    installs = [e for e in cluster.log_events(name) if e["event"] == "started over from a snapshot"]
    assert installs, f"{name} never started from a snapshot"
    base = int(str(installs[-1]["seqno"]))
    chunks = ledger_chunks(os.listdir(cluster.ledger_dir(name)))
    assert not chunks or chunks[0].start == base + 1, f"{name}'s ledger does not continue its snapshot"
    assert any(seqno == base for seqno, _ in snapshots_of(cluster, name)), f"{name} lost its snapshot"
    return base


def wait_for_snapshot_past(cluster: Cluster, name: str, seqno: int) -> tuple[int, int]:
    event = cluster.wait_for_log(
        name,
        f"a snapshot after {seqno}",
        lambda e: e["event"] == "snapshot stored" and int(str(e.get("seqno", 0))) > seqno,
        seconds=60,
    )
    return int(str(event["seqno"])), int(str(event["evidence_seqno"]))


def assert_serves(cluster: Cluster, name: str, keys: range) -> None:
    with cluster.client([name]) as client:
        for i in keys:
            got = client.get(MAP, f"k{i}".encode(), consistency=Consistency.LOCAL)
            assert got.value == value(i), f"{name} serves {got.value!r} for k{i}"


def test_a_joining_node_starts_from_the_snapshot_and_serves_the_same_state(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3, spare_machines=1, consensus=CONSENSUS)
    written = write(cluster, 0, 3 * SNAPSHOT_EVERY)
    primary = cluster.primary()
    snapshot_seqno, _ = wait_for_snapshot_past(cluster, primary, SNAPSHOT_EVERY)
    last = write(cluster, 3 * SNAPSHOT_EVERY, 10)

    cluster.join("node3", cluster.join_address(primary))
    cluster.trust("node3")
    cluster.wait_commit_at_least("node3", last, seconds=60)
    last = write(cluster, 3 * SNAPSHOT_EVERY + 10, 5)  # entries after the snapshot, into node3's ledger
    cluster.wait_commit_at_least("node3", last, seconds=60)
    assert_serves(cluster, "node3", range(0, 3 * SNAPSHOT_EVERY + 15))
    assert written < last

    # It restarts from its snapshot and its ledger, and keeps up.
    cluster.kill("node3")
    assert started_from_last_install(cluster, "node3") >= snapshot_seqno > 1
    more = write(cluster, 1000, 5)
    cluster.restart("node3")
    cluster.wait_commit_at_least("node3", more, seconds=60)
    assert_serves(cluster, "node3", range(1000, 1005))
    assert_serves(cluster, "node3", range(0, 10))

    # On request (governance's trigger_snapshot) besides every N transactions.
    latest = max(seqno for seqno, _ in snapshots_of(cluster, primary))
    cluster.pass_proposal({"name": "trigger_snapshot"})
    wait_for_snapshot_past(cluster, primary, latest)
    cluster.stop()
    started_from_last_install(cluster, "node3")
    cluster.check_ledgers()
    # Secrets stay sealed: no private value in any snapshot file (they hold the private maps encrypted).
    for name in cluster.names:
        for path in (cluster.local.node_dir(name) / "snapshots").glob("snapshot_*"):
            content = path.read_bytes()
            assert not any(value(i) in content for i in (0, 7, 3 * SNAPSHOT_EVERY, 1004)), path


def test_a_far_behind_node_catches_up_from_a_snapshot_and_a_tampered_one_is_refused(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster = start_cluster(nodes=3, consensus=CONSENSUS)
    write(cluster, 0, 5)
    primary = cluster.primary()
    behind = next(name for name in cluster.names if name != primary)
    cluster.kill(behind)
    write(cluster, 5, 3 * SNAPSHOT_EVERY)
    wait_for_snapshot_past(cluster, primary, SNAPSHOT_EVERY)
    last = write(cluster, 500, 5)

    cluster.restart(behind)
    cluster.wait_commit_at_least(behind, last, seconds=60)
    assert_serves(cluster, behind, range(0, 5 + 3 * SNAPSHOT_EVERY))

    # The host flips one byte of the snapshot the node now starts from: at restart the enclave refuses it.
    cluster.kill(behind)
    base = started_from_last_install(cluster, behind)
    (evidence,) = [e for s, e in snapshots_of(cluster, behind) if s == base]
    path = cluster.local.node_dir(behind) / "snapshots" / f"snapshot_{base}_{evidence}.committed"
    original = path.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    path.write_bytes(bytes(tampered))
    cluster.restart(behind)
    refusal = cluster.wait_for_log(
        behind, "the refused snapshot", _mentions("snapshot this node started from")
    )
    assert "refused Restart" in str(refusal)
    report = cluster.status(behind)
    assert report is None or report.commit.seqno == 0, "a node refused its snapshot yet serves"
    cluster.kill(behind)
    with cluster.client([name for name in cluster.names if name != behind]) as client:
        assert client.get(MAP, b"k7").value == value(7)

    # A stale snapshot (an older one of this service, with a valid receipt) in its place: refused too.
    older = min(seqno for seqno, _ in snapshots_of(cluster, primary))
    (older_evidence,) = [e for s, e in snapshots_of(cluster, primary) if s == older]
    stale = cluster.local.node_dir(primary) / "snapshots" / f"snapshot_{older}_{older_evidence}.committed"
    assert older < base
    path.write_bytes(stale.read_bytes())
    logged_before = len(cluster.log_events(behind))
    cluster.restart(behind)

    def stale_refusal() -> str | None:
        later = (str(event) for event in cluster.log_events(behind)[logged_before:])
        return next((event for event in later if "refused Restart" in event), None)

    # Refused as stale, or (its ledger still empty) as older than what its Raft state says it committed.
    reason = wait_for(f"{behind} to refuse the stale snapshot", stale_refusal, time.monotonic() + 30.0)
    assert "stale or swapped" in reason or "the ledger ends at" in reason, reason
    cluster.kill(behind)

    # The original file back: the node starts again (nothing was changed by the refusals).
    path.write_bytes(original)
    cluster.restart(behind)
    cluster.wait_commit_at_least(behind, last, seconds=60)
    cluster.stop()
    cluster.check_ledgers()


def _mentions(text: str) -> Callable[[dict[str, object]], bool]:
    return lambda event: text in str(event)
