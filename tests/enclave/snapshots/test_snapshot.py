"""A snapshot file is opened only when its receipt proves it and its private state authenticates."""

from __future__ import annotations

import json

import msgpack
import pytest

from enclave.kv.committed_state import SnapshotFormatError
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES
from enclave.ledger.writer import LedgerWriter, LedgerWriterError
from enclave.snapshots.format import SnapshotBody, SnapshotFile
from enclave.snapshots.snapshot import SnapshotRejected, map_writes, open_snapshot, prove_snapshot
from tests.enclave.ledger.ledger_scenario import PRIVATE_MAP, Service, secret_value
from tests.enclave.snapshots.snapshot_scenario import POLICY, SnapshotLedger, flip, snapshot_ledger


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(seed=7)


@pytest.fixture(scope="module")
def ledger(service: Service) -> SnapshotLedger:
    return snapshot_ledger(service)


def open_file(service: Service, data: bytes) -> object:
    return open_snapshot(data, service.service.cert, service.secrets)


def test_an_opened_snapshot_holds_the_committed_state_at_its_seqno(
    service: Service, ledger: SnapshotLedger
) -> None:
    opened = open_snapshot(ledger.file, service.service.cert, service.secrets)
    assert opened.body.seqno == ledger.snapshot_seqno
    assert opened.evidence.seqno == ledger.evidence_seqno
    assert opened.state == ledger.state.committed_state()
    assert opened.state.maps[PRIVATE_MAP][b"key-000003"].value == secret_value(3)
    assert opened.body.voters == (service.node.node_id,)


def test_private_values_are_not_in_the_file_in_the_clear(ledger: SnapshotLedger) -> None:
    assert secret_value(3) not in ledger.file
    assert b"TOP-SECRET" not in ledger.file


def test_the_tree_state_lets_a_writer_continue_the_ledger(ledger: SnapshotLedger) -> None:
    body = SnapshotBody.decode(SnapshotFile.decode(ledger.file).body)
    assert body.tree_frontier == ledger.writer.tree_state(ledger.snapshot_seqno).frontier
    assert body.view_history[0] == (ledger.writer.view_at(1), 1)


def _replace_body(ledger: SnapshotLedger, body: bytes) -> bytes:
    return SnapshotFile(body, SnapshotFile.decode(ledger.file).receipt_json).encode()


def test_a_flipped_byte_anywhere_in_the_body_is_refused(service: Service, ledger: SnapshotLedger) -> None:
    body = SnapshotFile.decode(ledger.file).body
    for at in range(0, len(body), max(1, len(body) // 40)):
        with pytest.raises(SnapshotRejected, match="does not prove this snapshot"):
            open_file(service, _replace_body(ledger, flip(body, at)))


def test_a_truncated_file_is_refused(service: Service, ledger: SnapshotLedger) -> None:
    for length in (0, 1, len(ledger.file) // 2, len(ledger.file) - 1):
        with pytest.raises(SnapshotRejected, match="not a snapshot file"):
            open_file(service, ledger.file[:length])


def test_a_forged_receipt_is_refused(service: Service, ledger: SnapshotLedger) -> None:
    snapshot_file = SnapshotFile.decode(ledger.file)
    receipt = json.loads(snapshot_file.receipt_json)
    signature = bytearray(receipt["signature"].encode())
    signature[10] = ord("A") if signature[10] != ord("A") else ord("B")
    receipt["signature"] = signature.decode()
    forged = SnapshotFile(snapshot_file.body, json.dumps(receipt)).encode()
    with pytest.raises(SnapshotRejected):
        open_file(service, forged)


def test_a_snapshot_of_another_service_is_refused(ledger: SnapshotLedger) -> None:
    other = Service.create(seed=8)
    with pytest.raises(SnapshotRejected, match="receipt does not verify"):
        open_snapshot(ledger.file, other.service.cert, other.secrets)


def test_a_snapshot_properly_proven_by_another_service_is_refused(
    service: Service, ledger: SnapshotLedger
) -> None:
    # Another service's own, valid snapshot: its receipt does not chain to this service's certificate.
    other = Service.create(seed=9)
    with pytest.raises(SnapshotRejected, match="receipt does not verify"):
        open_snapshot(snapshot_ledger(other).file, service.service.cert, service.secrets)


def test_without_the_ledger_secret_the_private_state_does_not_open(
    service: Service, ledger: SnapshotLedger
) -> None:
    assert prove_snapshot(ledger.file, service.service.cert).body.seqno == ledger.snapshot_seqno
    wrong = LedgerSecrets.single(LedgerSecret(bytes(32)))
    with pytest.raises(SnapshotRejected, match="GCM tag"):
        open_snapshot(ledger.file, service.service.cert, wrong)


def test_a_writer_from_the_snapshot_continues_the_ledger_byte_for_byte(
    service: Service, ledger: SnapshotLedger
) -> None:
    opened = open_snapshot(ledger.file, service.service.cert, service.secrets)
    resumed = LedgerWriter.from_snapshot(
        service.node,
        service.secrets,
        POLICY,
        0,
        seqno=opened.body.seqno,
        tree=opened.tree,
        node_certs=map_writes(opened.state, ENDORSED_NODE_CERTIFICATES),
    )
    for entry in ledger.entries[opened.body.seqno :]:
        resumed.record_replicated(entry.raw)  # checks every signature against the resumed tree
    assert resumed.merkle_root() == ledger.writer.merkle_root()
    assert resumed.view_at(1) == ledger.writer.view_at(1)
    last = ledger.writer.last_txid.seqno
    assert resumed.receipt(last - 1).to_json() == ledger.writer.receipt(last - 1).to_json()
    with pytest.raises(LedgerWriterError, match="before the snapshot"):
        resumed.receipt(opened.body.seqno)
    signature = resumed.sign(now_ms=0)
    assert signature.raw == ledger.writer.sign(now_ms=0).raw


@pytest.mark.parametrize(
    "data",
    [b"", b"\x93\x01\x02", msgpack.packb([2, 0, 0, [], [], [], [], b"", b"", b""]), b"\xc1" * 8],
    ids=["empty", "too few fields", "unknown format", "not msgpack"],
)
def test_a_malformed_body_is_a_format_error(data: bytes) -> None:
    with pytest.raises(SnapshotFormatError):
        SnapshotBody.decode(data)


def test_a_body_in_another_encoding_of_the_same_fields_is_refused(ledger: SnapshotLedger) -> None:
    body = SnapshotFile.decode(ledger.file).body
    fields = msgpack.unpackb(body)
    fields[1] = float(fields[1])  # same number, another type: not the canonical encoding
    with pytest.raises(SnapshotFormatError):
        SnapshotBody.decode(msgpack.packb(fields))
