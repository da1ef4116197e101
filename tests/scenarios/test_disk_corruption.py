"""A host that damages one node's ledger on disk (DESIGN.md section 2: the host's disk is untrusted, and
every modification of history must be detected).

The node is stopped (kill -9), its open ledger chunk is damaged, and it is started again: it must refuse
to start, say why in its log, and leave its files as it found them, so that nothing it held is lost
(restoring the good copy brings every committed write back). Damage is a byte flipped inside a committed
entry, the chunk cut in the middle of a committed entry, and a byte flipped in an entry's size field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from enclave.ledger.chunks import iter_frames
from enclave.runtime import messages as m
from node.network import wait_for
from tests.integration.cluster import Cluster, read_everywhere

pytestmark = pytest.mark.slow

WRITES = 30


def written_cluster(start_cluster: Callable[..., Cluster]) -> tuple[Cluster, dict[bytes, bytes], int]:
    """A one-node service holding `WRITES` committed writes, killed: its ledger is the host's to damage."""
    cluster = start_cluster(nodes=1)
    written = {b"key-%d" % i: b"value-%d" % i for i in range(WRITES)}
    with cluster.client() as client:
        last = max(client.put("records", key, value).txid.seqno for key, value in written.items())
    cluster.kill("node0")
    return cluster, written, last


def open_chunk(cluster: Cluster) -> Path:
    (chunk,) = cluster.ledger_dir("node0").glob("ledger_1")
    return chunk


@dataclass(frozen=True, slots=True)
class CommittedEntry:
    """Where one committed entry lies in the open chunk."""

    seqno: int
    offset: int
    size: int


def middle_entry(chunk: bytes) -> CommittedEntry:
    """The entry halfway through `chunk` (committed: every write was acknowledged Committed)."""
    entries = list(iter_frames(chunk, len(chunk)))
    offset, frame = entries[len(entries) // 2]
    return CommittedEntry(len(entries) // 2 + 1, offset, frame.size)


def refused_restart(cluster: Cluster) -> str:
    """Starts node0 on its damaged files; the reason it gives for refusing to restart (it stays
    Uninitialized, serving nobody), once it has given it. The node is killed again."""
    logged_before = len(cluster.log_events("node0"))
    cluster.restart("node0")

    def refusal() -> str | None:
        events = (str(event["event"]) for event in cluster.log_events("node0")[logged_before:])
        return next((event for event in events if event.startswith("refused Restart")), None)

    reason = wait_for("node0 to refuse its restart", refusal, time.monotonic() + 30.0)
    report = cluster.status("node0")
    assert report is not None and report.state is m.LifecycleState.UNINITIALIZED, report
    cluster.kill("node0")
    return reason


def test_a_flipped_byte_or_a_cut_chunk_is_refused_at_start_and_restoring_the_copy_loses_nothing(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster, written, last = written_cluster(start_cluster)
    chunk = open_chunk(cluster)
    good = chunk.read_bytes()
    entry = middle_entry(good)

    flipped = bytearray(good)
    flipped[entry.offset + entry.size // 2] ^= 0x01
    chunk.write_bytes(bytes(flipped))
    # Caught by the entry's GCM tag (every entry has one, over its public domain too), else by the
    # Merkle root the next signature signs.
    assert refused_restart(cluster).startswith("refused Restart: ReplayedLedgerInvalid: ledger entry")
    assert chunk.read_bytes() == flipped

    cut = good[: entry.offset + entry.size // 2]
    chunk.write_bytes(cut)
    assert f"the ledger ends at {entry.seqno - 1}" in refused_restart(cluster)
    # Committed entries were lost, not torn by a crash: the host leaves the file as it found it.
    assert chunk.read_bytes() == cut

    chunk.write_bytes(good)
    cluster.restart("node0")
    cluster.wait_open("node0")
    read_everywhere(cluster, written, last)
    cluster.stop()
    cluster.check_ledgers()


def test_a_flipped_size_field_is_refused_without_cutting_the_committed_entries_after_it(
    start_cluster: Callable[..., Cluster],
) -> None:
    cluster, _, _ = written_cluster(start_cluster)
    chunk = open_chunk(cluster)
    good = chunk.read_bytes()
    entry = middle_entry(good)

    flipped = bytearray(good)
    flipped[entry.offset + 2] ^= 0x01  # the low byte of the 6-byte size after version and flags
    chunk.write_bytes(bytes(flipped))
    # A crash tears only what was never committed: damage below the commit is left on disk, not cut.
    assert f"ledger entry {entry.seqno}:" in refused_restart(cluster)
    assert chunk.read_bytes() == bytes(flipped), "the host cut committed entries off the chunk"
    assert any("is damaged" in str(event) for event in cluster.log_events("node0")), "no damage reported"

    chunk.write_bytes(good)  # the operator repairs the byte: every entry is still there
    cluster.restart("node0")
    cluster.wait_open("node0")
    cluster.stop()
    cluster.check_ledgers()
