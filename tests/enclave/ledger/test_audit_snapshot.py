"""Auditing a ledger that starts after a snapshot: the snapshot's receipt proves where the audit starts,
and every entry after it is checked as in a whole ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.kv.write_set import WriteSet
from enclave.ledger.audit import SNAPSHOT_FAILURE_SEQNO, AuditReport, audit_ledger
from enclave.ledger.chunks import ChunkName
from enclave.ledger.tables import ServiceStatus, service_info_writes
from enclave.snapshots.format import SnapshotFile
from tests.enclave.ledger.ledger_scenario import (
    Service,
    build_entries,
    public_value,
    transaction,
)
from tests.enclave.snapshots.snapshot_scenario import (
    POLICY,
    SnapshotLedger,
    flip,
    snapshot_ledger,
    write_ledger_after,
)


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(71)


@pytest.fixture(scope="module")
def ledger(service: Service) -> SnapshotLedger:
    return snapshot_ledger(service, after=12)


@pytest.fixture(scope="module")
def chunks(ledger: SnapshotLedger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return write_ledger_after(tmp_path_factory.mktemp("ledger"), ledger.entries, ledger.snapshot_seqno)


def audit(chunks: dict[str, bytes], snapshot: bytes | None, service: Service | None = None) -> AuditReport:
    return audit_ledger(
        list(chunks), chunks.__getitem__, service.service.cert if service else None, snapshot=snapshot
    )


def test_a_ledger_after_a_snapshot_verifies_with_that_snapshot(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes]
) -> None:
    seen: list[int] = []
    report = audit_ledger(list(chunks), chunks.__getitem__, service.service.cert, seen.append, ledger.file)
    assert report.ok, report.failure
    assert report.snapshot == ledger.entries[ledger.snapshot_seqno - 1].txid
    assert report.last_verified == ledger.entries[-1].txid
    assert report.entries == len(ledger.entries) - ledger.snapshot_seqno and report.unsigned_tail == 0
    assert report.signatures == 2  # the one after the evidence, and the last
    assert seen == list(range(ledger.snapshot_seqno + 1, len(ledger.entries) + 1))


def test_without_a_pinned_certificate_the_snapshot_is_proven_by_its_own(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes]
) -> None:
    report = audit(chunks, ledger.file)
    assert report.ok, report.failure
    assert report.service_cert_pem == service.service.cert_pem  # found in the snapshot's public state


def test_without_the_snapshot_the_audit_asks_for_it(ledger: SnapshotLedger, chunks: dict[str, bytes]) -> None:
    report = audit(chunks, None)
    assert report.failure is not None and report.failure.seqno == 1
    start = ledger.snapshot_seqno + 1
    assert report.failure.reason == (
        f"the ledger starts at seqno {start}: give the snapshot it starts from (--snapshot)"
    )


def _replace(ledger: SnapshotLedger, body: bytes | None = None, receipt_json: str | None = None) -> bytes:
    original = SnapshotFile.decode(ledger.file)
    return SnapshotFile(body or original.body, receipt_json or original.receipt_json).encode()


def _tampered_receipt(ledger: SnapshotLedger) -> str:
    receipt = json.loads(SnapshotFile.decode(ledger.file).receipt_json)
    receipt["leaf_components"]["write_set_digest"] = "00" * 32
    return json.dumps(receipt)


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "own-certificate"])
def test_a_tampered_snapshot_is_rejected_before_any_entry(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes], pinned: bool
) -> None:
    body = SnapshotFile.decode(ledger.file).body
    tampered = {
        "body": _replace(ledger, body=flip(body, len(body) // 2)),
        "receipt": _replace(ledger, receipt_json=_tampered_receipt(ledger)),
    }
    for what, snapshot in tampered.items():
        report = audit(chunks, snapshot, service if pinned else None)
        assert report.failure is not None, what
        assert report.failure.seqno == SNAPSHOT_FAILURE_SEQNO and report.entries == 0, what
        assert report.failure.reason.startswith("snapshot rejected: "), what


def test_a_snapshot_of_another_service_does_not_vouch_for_this_ledger(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes]
) -> None:
    other = snapshot_ledger(Service.create(72), after=12)
    assert other.snapshot_seqno == ledger.snapshot_seqno
    pinned = audit(chunks, other.file, service)
    assert pinned.failure is not None and pinned.failure.seqno == SNAPSHOT_FAILURE_SEQNO
    assert "receipt does not verify" in pinned.failure.reason
    # Proven by its own service's certificate, it holds that service's nodes and tree: the first
    # signature after it is not one of theirs.
    unpinned = audit(chunks, other.file)
    assert unpinned.failure is not None
    assert unpinned.failure.seqno == ledger.snapshot_seqno + 2
    assert "not a trusted node" in unpinned.failure.reason


def test_a_ledger_must_start_right_after_the_snapshot(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes], tmp_path: Path
) -> None:
    start = ledger.snapshot_seqno + 1
    first = next(name for name in chunks if name.startswith(f"ledger_{start}-"))
    later = {name: data for name, data in chunks.items() if name != first}
    gap = audit(later, ledger.file, service)
    assert gap.failure is not None and gap.failure.seqno == start
    assert "are missing" in gap.failure.reason

    whole = write_ledger_after(tmp_path, ledger.entries, 0)
    earlier = audit(whole, ledger.file, service)
    assert earlier.failure is not None and earlier.failure.seqno == start
    assert f"before seqno {start} where the ledger starts" in earlier.failure.reason


def test_a_changed_entry_after_the_snapshot_is_named(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes]
) -> None:
    entry = next(e for e in ledger.entries if public_value(1003) in e.raw)
    seqno = entry.txid.seqno
    name = next(n for n in chunks if (c := ChunkName.parse(n)) and c.start <= seqno <= (c.end or seqno))
    at = chunks[name].index(public_value(1003)) + 3
    report = audit({**chunks, name: flip(chunks[name], at)}, ledger.file, service)
    assert report.failure is not None and report.failure.seqno == seqno
    assert "modified" in report.failure.reason


def test_entries_after_the_snapshot_may_not_go_back_to_an_earlier_term(
    service: Service, ledger: SnapshotLedger, tmp_path: Path
) -> None:
    # The same service's history written in term 1, with a signature where the snapshot (term 2) is.
    writer, entries = build_entries(service, 12, POLICY, term=1)
    entries += [writer.append(transaction(2000 + i), term=1) for i in range(3)]
    entries.append(writer.sign(now_ms=0))
    report = audit(write_ledger_after(tmp_path, entries, ledger.snapshot_seqno), ledger.file, service)
    assert report.failure is not None and report.failure.seqno == ledger.snapshot_seqno + 1
    assert report.failure.reason == "term 1 goes back from 2"


def test_service_status_changes_resume_from_the_snapshots_status(service: Service, tmp_path: Path) -> None:
    # Open -> Recovering is legal only because the snapshot records the service as Open.
    ledger = snapshot_ledger(service)
    term = ledger.writer.last_txid.view
    recovering = WriteSet(service_info_writes(service.service.cert_pem, ServiceStatus.RECOVERING))
    entries = [*ledger.entries, ledger.writer.append(recovering, term), ledger.writer.sign(now_ms=0)]
    report = audit(write_ledger_after(tmp_path / "recovering", entries, ledger.snapshot_seqno), ledger.file)
    assert report.ok, report.failure

    illegal = WriteSet(service_info_writes(service.service.cert_pem, ServiceStatus.OPEN))
    entries += [ledger.writer.append(illegal, term), ledger.writer.sign(now_ms=0)]
    report = audit(write_ledger_after(tmp_path / "illegal", entries, ledger.snapshot_seqno), ledger.file)
    assert report.failure is not None and report.failure.seqno == entries[-2].txid.seqno
    assert "illegal service status change" in report.failure.reason


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_change_to_the_snapshot_file_is_rejected_or_proves_the_same_snapshot(
    service: Service, ledger: SnapshotLedger, chunks: dict[str, bytes], data: st.DataObject
) -> None:
    at = data.draw(st.integers(min_value=0, max_value=len(ledger.file) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    damaged = ledger.file[:at] + bytes([ledger.file[at] ^ (1 << bit)]) + ledger.file[at + 1 :]
    for pinned in (service, None):
        report = audit(chunks, damaged, pinned)
        if report.failure is not None:
            assert report.failure.seqno == SNAPSHOT_FAILURE_SEQNO
        else:
            # Only bytes that prove nothing can change unnoticed (the receipt's encoding, not its content).
            assert SnapshotFile.decode(damaged).body == SnapshotFile.decode(ledger.file).body
