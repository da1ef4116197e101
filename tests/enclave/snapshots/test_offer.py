"""A node checks the snapshot Raft offers it before installing anything (enclave/runtime/snapshotting.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consensus import Configuration, Index, Snapshot, Term
from consensus import NodeId as RaftNodeId
from enclave.ledger.ledger_secrets import LedgerSecrets
from enclave.runtime.snapshotting import open_offer
from enclave.snapshots.snapshot import SnapshotRejected
from tests.enclave.ledger.ledger_scenario import Service
from tests.enclave.snapshots.snapshot_scenario import SnapshotLedger, snapshot_ledger


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(seed=21)


@pytest.fixture(scope="module")
def ledger(service: Service) -> SnapshotLedger:
    return snapshot_ledger(service)


def offer(service: Service, ledger: SnapshotLedger) -> Snapshot:
    seqno = ledger.snapshot_seqno
    configuration = Configuration(frozenset({RaftNodeId(service.node.node_id)}))
    return Snapshot(Index(seqno), Term(ledger.writer.view_at(seqno)), configuration, ledger.file)


def fresh_secrets(service: Service) -> LedgerSecrets:
    return LedgerSecrets.single(service.secret)


def test_the_offer_raft_describes_opens(service: Service, ledger: SnapshotLedger) -> None:
    opened = open_offer(offer(service, ledger), service.service.cert, fresh_secrets(service), service.node)
    assert opened.body.seqno == ledger.snapshot_seqno


@pytest.mark.parametrize(
    "change",
    [
        {"index": Index(3)},
        {"term": Term(99)},
        {"configuration": Configuration(frozenset({RaftNodeId("someone-else")}))},
    ],
    ids=["another index", "another term", "another configuration"],
)
def test_a_snapshot_offered_as_another_is_refused(
    service: Service, ledger: SnapshotLedger, change: dict[str, object]
) -> None:
    mislabelled = replace(offer(service, ledger), **change)  # type: ignore[arg-type]
    with pytest.raises(SnapshotRejected):
        open_offer(mislabelled, service.service.cert, fresh_secrets(service), service.node)


def test_a_tampered_offer_is_refused_and_teaches_nothing(service: Service, ledger: SnapshotLedger) -> None:
    data = bytearray(ledger.file)
    data[len(data) // 3] ^= 0x40
    secrets = fresh_secrets(service)
    with pytest.raises(SnapshotRejected):
        open_offer(
            replace(offer(service, ledger), data=bytes(data)), service.service.cert, secrets, service.node
        )
    assert secrets.versions() == fresh_secrets(service).versions()
