"""`sealchain ledger verify|dump` and `sealchain receipt verify`: offline audit and tamper detection."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from enclave.ledger.audit import SNAPSHOT_FAILURE_SEQNO
from enclave.ledger.chunks import ChunkName, chunk_header, iter_frames, positions_table, table_offset
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.writer import AppendedEntry, LedgerWriter
from enclave.snapshots.format import snapshot_file_name
from sealchain.cli import cli
from tests.enclave.ledger.ledger_scenario import (
    Service,
    build_entries,
    public_value,
    secret_value,
    write_files,
)
from tests.enclave.snapshots.snapshot_scenario import (
    SnapshotLedger,
    flip,
    snapshot_ledger,
    write_ledger_after,
)

TRANSACTIONS = 24
POLICY = SignaturePolicy(max_transactions=5, max_interval_ms=10**12)
CHUNK_SIZE = 3000


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(51)


@pytest.fixture(scope="module")
def built(service: Service) -> tuple[LedgerWriter, list[AppendedEntry]]:
    return build_entries(service, TRANSACTIONS, POLICY)


@pytest.fixture(scope="module")
def other_service_entries() -> list[AppendedEntry]:
    """Another service's ledger of the same shape: its signature entries sit at the same seqnos."""
    return build_entries(Service.create(52), TRANSACTIONS, POLICY)[1]


@pytest.fixture
def ledger_dir(tmp_path: Path, built: tuple[LedgerWriter, list[AppendedEntry]]) -> Path:
    directory = tmp_path / "ledger"
    write_files(directory, built[1], CHUNK_SIZE)
    return directory


@pytest.fixture
def service_cert(tmp_path: Path, service: Service) -> Path:
    path = tmp_path / "service_cert.pem"
    path.write_text(service.service.cert_pem)
    return path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


# -- reading chunks the way an attacker with disk access would rewrite them ----------------------------


def chunk_files(directory: Path) -> list[tuple[ChunkName, Path]]:
    chunks = [(ChunkName.parse(p.name), p) for p in directory.iterdir()]
    return sorted(((n, p) for n, p in chunks if n is not None), key=lambda chunk: chunk[0].sort_key())


def chunk_entries(path: Path) -> list[bytes]:
    data = path.read_bytes()
    end = table_offset(data) or len(data)
    return [data[offset : offset + frame.size] for offset, frame in iter_frames(data, end)]


def write_chunk(path: Path, entries: list[bytes]) -> None:
    """A consistent chunk (header, entries, positions table) holding `entries`."""
    positions, offset = [], 8
    for raw in entries:
        positions.append(offset)
        offset += len(raw)
    path.write_bytes(chunk_header(offset) + b"".join(entries) + positions_table(positions))


def chunk_holding(directory: Path, seqno: int) -> tuple[Path, int]:
    """The chunk file holding `seqno` and the entry's index in it."""
    for name, path in chunk_files(directory):
        if name.start <= seqno <= (name.end or seqno):
            return path, seqno - name.start
    raise AssertionError(f"no chunk holds {seqno}")


def rewrite_entry(directory: Path, seqno: int, change: Callable[[bytes], bytes]) -> None:
    path, index = chunk_holding(directory, seqno)
    entries = chunk_entries(path)
    entries[index] = change(entries[index])
    write_chunk(path, entries)


def verify_fails_at(directory: Path, service_cert: Path, seqno: int) -> str:
    result = run("ledger", "verify", directory, "--service-cert", service_cert, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_bad_seqno"] == seqno, report
    return str(report["reason"])


def seqno_of_transaction(entries: list[AppendedEntry], i: int) -> int:
    return next(e.txid.seqno for e in entries if public_value(i) in e.raw)


def signature_seqnos(entries: list[AppendedEntry]) -> list[int]:
    return [e.txid.seqno for e in entries if e.committable]


# -- verify -----------------------------------------------------------------------------------------


def test_an_untouched_ledger_verifies_up_to_its_last_signature(
    ledger_dir: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    result = run("ledger", "verify", ledger_dir, "--service-cert", service_cert, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["last_verified"] == str(built[1][-1].txid)
    assert report["snapshot"] is None
    assert report["signatures"] == len(signature_seqnos(built[1]))

    text = run("ledger", "verify", ledger_dir)
    assert text.exit_code == 0 and f"up to {built[1][-1].txid}" in text.output


def test_entries_after_the_last_signature_are_reported_as_awaiting_one(
    tmp_path: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    entries = built[1][:-1]  # the final signature was never written
    write_files(tmp_path / "tail", entries, CHUNK_SIZE, commit=False)
    last_signature = max(signature_seqnos(entries))
    result = run("ledger", "verify", tmp_path / "tail", "--service-cert", service_cert, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["last_verified"] == f"2.{last_signature}"
    assert report["unsigned_tail"] == len(entries) - last_signature > 0
    assert "await a signature" in run("ledger", "verify", tmp_path / "tail").output


def test_a_flipped_byte_in_a_public_value_names_its_entry(
    ledger_dir: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    seqno = seqno_of_transaction(built[1], 7)
    rewrite_entry(ledger_dir, seqno, lambda raw: flip(raw, raw.index(public_value(7)) + 3))
    assert "modified" in verify_fails_at(ledger_dir, service_cert, seqno)


def test_a_flipped_byte_in_a_private_ciphertext_names_its_entry(
    ledger_dir: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    seqno = seqno_of_transaction(built[1], 12)
    rewrite_entry(ledger_dir, seqno, lambda raw: flip(raw, len(raw) - 5))  # the ciphertext ends the entry
    verify_fails_at(ledger_dir, service_cert, seqno)


def test_a_flipped_byte_in_a_signature_names_the_signature_transaction(
    ledger_dir: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    seqno = signature_seqnos(built[1])[2]

    def corrupt_signature(raw: bytes) -> bytes:
        at = raw.index(b'"sig":"') + 20
        return raw[:at] + (b"A" if raw[at : at + 1] != b"A" else b"B") + raw[at + 1 :]

    rewrite_entry(ledger_dir, seqno, corrupt_signature)
    assert "signature" in verify_fails_at(ledger_dir, service_cert, seqno)


def test_a_removed_entry_is_reported_missing(
    ledger_dir: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    seqno = seqno_of_transaction(built[1], 9)
    path, index = chunk_holding(ledger_dir, seqno)
    entries = chunk_entries(path)
    write_chunk(path, entries[:index] + entries[index + 1 :])
    assert "missing" in verify_fails_at(ledger_dir, service_cert, seqno)


def test_reordered_chunks_are_detected_at_the_first_misplaced_seqno(
    ledger_dir: Path, service_cert: Path
) -> None:
    (first, first_path), (_, second_path) = chunk_files(ledger_dir)[1:3]
    first_bytes, second_bytes = first_path.read_bytes(), second_path.read_bytes()
    first_path.write_bytes(second_bytes)
    second_path.write_bytes(first_bytes)
    assert "out of order" in verify_fails_at(ledger_dir, service_cert, first.start)


def test_a_chunk_truncated_mid_entry_is_detected_at_that_entry(
    ledger_dir: Path, service_cert: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    name, path = chunk_files(ledger_dir)[2]
    entries = chunk_entries(path)
    cut = 8 + sum(len(raw) for raw in entries[:2]) + len(entries[2]) // 2
    path.write_bytes(path.read_bytes()[:cut])
    assert "truncated" in verify_fails_at(ledger_dir, service_cert, name.start + 2)


def test_a_signature_from_another_service_is_rejected(
    ledger_dir: Path,
    service_cert: Path,
    built: tuple[LedgerWriter, list[AppendedEntry]],
    other_service_entries: list[AppendedEntry],
) -> None:
    seqno = signature_seqnos(built[1])[3]
    assert seqno in signature_seqnos(other_service_entries)
    rewrite_entry(ledger_dir, seqno, lambda _: other_service_entries[seqno - 1].raw)
    assert "not a trusted node" in verify_fails_at(ledger_dir, service_cert, seqno)


def test_node_certificates_must_be_endorsed_by_the_given_service_certificate(
    ledger_dir: Path, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(Service.create(53).service.cert_pem)
    assert "not endorsed" in verify_fails_at(ledger_dir, stranger, 2)


def test_a_directory_without_chunks_does_not_verify(tmp_path: Path) -> None:
    result = run("ledger", "verify", tmp_path, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"] == "ledger_invalid"
    assert "no ledger chunks found" in result.stderr


# -- a ledger that starts after a snapshot ------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshotted(service: Service) -> SnapshotLedger:
    return snapshot_ledger(service, after=12)


@pytest.fixture
def node_dir(tmp_path: Path, snapshotted: SnapshotLedger) -> Path:
    """A node that started from the snapshot, laid out as nodes are: `ledger/` holds seqnos after the
    snapshot, `snapshots/` beside it is where the snapshot files go."""
    node = tmp_path / "node0"
    write_ledger_after(node / "ledger", snapshotted.entries, snapshotted.snapshot_seqno)
    (node / "snapshots").mkdir()
    return node


def snapshot_path(node_dir: Path, ledger: SnapshotLedger) -> Path:
    return node_dir / "snapshots" / snapshot_file_name(ledger.snapshot_seqno, ledger.evidence_seqno)


def test_a_ledger_after_a_snapshot_verifies_with_the_snapshot_given(
    node_dir: Path, service_cert: Path, snapshotted: SnapshotLedger
) -> None:
    snapshot = node_dir / "the-snapshot"
    snapshot.write_bytes(snapshotted.file)
    args = ("ledger", "verify", node_dir / "ledger", "--snapshot", snapshot, "--service-cert", service_cert)
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["snapshot"] == str(snapshot)
    assert report["last_verified"] == str(snapshotted.entries[-1].txid)

    text = run(*args)
    snapshot_txid = snapshotted.entries[snapshotted.snapshot_seqno - 1].txid
    assert text.exit_code == 0 and f"after the snapshot at {snapshot_txid}" in text.output


def test_the_newest_snapshot_the_ledger_starts_from_is_found_beside_it(
    node_dir: Path, snapshotted: SnapshotLedger
) -> None:
    seqno, evidence = snapshotted.snapshot_seqno, snapshotted.evidence_seqno
    snapshot = snapshot_path(node_dir, snapshotted)
    snapshot.write_bytes(snapshotted.file)
    # Decoys: an older snapshot at the same seqno, one at another seqno, one not yet committed.
    for name in (
        snapshot_file_name(seqno, evidence - 1),
        snapshot_file_name(seqno - 4, evidence + 1),
        f"snapshot_{seqno}_{evidence + 9}",
    ):
        (node_dir / "snapshots" / name).write_bytes(b"not this one")

    result = run("ledger", "verify", node_dir / "ledger", "--json")
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["snapshot"]) == snapshot.resolve()

    text = run("ledger", "verify", node_dir / "ledger")
    assert text.exit_code == 0, text.output
    assert f"the ledger starts at seqno {seqno + 1}: using snapshot {snapshot.resolve()}" in text.output


def test_without_a_snapshot_the_verifier_asks_for_one(node_dir: Path, snapshotted: SnapshotLedger) -> None:
    result = run("ledger", "verify", node_dir / "ledger", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["snapshot"] is None
    error = json.loads(result.stderr)
    assert error["error"] == "ledger_invalid"
    start = snapshotted.snapshot_seqno + 1
    assert (
        f"the ledger starts at seqno {start}: give the snapshot it starts from (--snapshot)"
        in error["message"]
    )


def test_a_tampered_snapshot_is_named_in_the_failure(
    node_dir: Path, service_cert: Path, snapshotted: SnapshotLedger
) -> None:
    snapshot = snapshot_path(node_dir, snapshotted)
    snapshot.write_bytes(snapshotted.file.replace(b"key-000003", b"key-000004"))  # a public key in the body
    result = run("ledger", "verify", node_dir / "ledger", "--service-cert", service_cert, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["first_bad_seqno"] == SNAPSHOT_FAILURE_SEQNO
    error = json.loads(result.stderr)
    assert error["error"] == "snapshot_invalid"
    assert error["message"].startswith(f"{snapshot.resolve()}: snapshot rejected: ")
    assert "does not prove this snapshot" in error["message"]


def test_dump_reads_a_ledger_after_a_snapshot_from_its_first_entry(
    node_dir: Path, snapshotted: SnapshotLedger
) -> None:
    result = run("ledger", "dump", node_dir / "ledger", "--json")
    assert result.exit_code == 0, result.output
    txids = [json.loads(line)["txid"] for line in result.stdout.splitlines()]
    assert txids == [str(e.txid) for e in snapshotted.entries[snapshotted.snapshot_seqno :]]


# -- dump -------------------------------------------------------------------------------------------


def test_dump_shows_public_tables_and_private_ones_only_with_the_ledger_secret(
    ledger_dir: Path, tmp_path: Path, service: Service
) -> None:
    sealed = run("ledger", "dump", ledger_dir)
    assert sealed.exit_code == 0, sealed.output
    assert public_value(3).decode() in sealed.output
    assert "encrypted bytes" in sealed.output
    assert secret_value(3).decode() not in sealed.output

    secret_file = tmp_path / "ledger_secret"
    secret_file.write_text(service.secret.key.hex())
    opened = run("ledger", "dump", ledger_dir, "--ledger-secret", secret_file, "--json")
    assert opened.exit_code == 0, opened.output
    records = [json.loads(line) for line in opened.stdout.splitlines()]
    privates = [r["private"]["records"] for r in records if r["private"]]
    assert {"key-000003": secret_value(3).decode()} in [p["writes"] for p in privates]


def test_dump_with_the_wrong_ledger_secret_fails_clearly(ledger_dir: Path, tmp_path: Path) -> None:
    secret_file = tmp_path / "ledger_secret"
    secret_file.write_text("00" * 32)
    result = run("ledger", "dump", ledger_dir, "--ledger-secret", secret_file)
    assert result.exit_code == 1
    assert "GCM tag" in result.output


# -- receipt verify ---------------------------------------------------------------------------------


@pytest.fixture
def receipt_file(tmp_path: Path, built: tuple[LedgerWriter, list[AppendedEntry]]) -> Path:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(built[0].receipt(6).to_json()))
    return path


def test_a_valid_receipt_verifies(receipt_file: Path, service_cert: Path) -> None:
    result = run("receipt", "verify", receipt_file, "--service-cert", service_cert, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["txid"] == "2.6"


def test_a_tampered_receipt_fails_with_the_reason(receipt_file: Path, service_cert: Path) -> None:
    document = json.loads(receipt_file.read_text())
    document["leaf_components"]["write_set_digest"] = "00" * 32
    receipt_file.write_text(json.dumps(document))
    result = run("receipt", "verify", receipt_file, "--service-cert", service_cert)
    assert result.exit_code == 1
    assert "signature does not cover the root" in result.output


def test_a_receipt_of_another_service_fails(receipt_file: Path, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(Service.create(54).service.cert_pem)
    result = run("receipt", "verify", receipt_file, "--service-cert", stranger, "--json")
    assert result.exit_code == 1
    error = json.loads(result.stderr)
    assert error["error"] == "receipt_invalid"
    assert "not endorsed by the service certificate" in error["message"]


def test_a_malformed_receipt_is_reported(tmp_path: Path, service_cert: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"cert": 1}')
    result = run("receipt", "verify", bad, "--service-cert", service_cert, "--json")
    assert result.exit_code == 1
    error = json.loads(result.stderr)
    assert error["error"] == "receipt_malformed"
    assert "not a CCF JSON receipt: missing field" in error["message"]
