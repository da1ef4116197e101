"""CCF's own tools (`ccf` 6.0.28) read and verify ledgers and receipts written by sealchain."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ccf.ledger
import ccf.receipt
import pytest
from cryptography import x509

from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.writer import AppendedEntry, LedgerWriter
from tests.enclave.ledger.ledger_scenario import (
    PUBLIC_MAP,
    Service,
    build_entries,
    public_value,
    write_files,
)

TRANSACTIONS = 60


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(41)


@pytest.fixture(scope="module")
def built(service: Service) -> tuple[LedgerWriter, list[AppendedEntry]]:
    return build_entries(service, TRANSACTIONS, SignaturePolicy(max_transactions=8, max_interval_ms=10**12))


@pytest.fixture
def ledger_dir(tmp_path: Path, built: tuple[LedgerWriter, list[AppendedEntry]]) -> Path:
    write_files(tmp_path, built[1], chunk_size=4000)
    return tmp_path


def test_ccf_ledger_validator_verifies_every_chunk(
    ledger_dir: Path, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    _, entries = built
    # The open chunk holds the tail until it reaches the chunk size: read it too.
    ledger = ccf.ledger.Ledger([str(ledger_dir)], committed_only=False)
    assert len(ledger) > 3
    validator = ccf.ledger.LedgerValidator()
    public_values = []
    private_sizes = []
    for chunk in ledger:
        for transaction in chunk:
            validator.add_transaction(transaction)  # type: ignore[no-untyped-call]
            tables = transaction.get_public_domain().get_tables()
            public_values.extend(tables.get(PUBLIC_MAP, {}).values())
            private_sizes.append(transaction.get_private_domain_size())
    signatures = [e for e in entries if e.committable]
    assert validator.signature_count == len(signatures) > 5
    assert str(validator.last_verified_txid()) == str(entries[-1].txid)
    assert public_values == [public_value(i) for i in range(TRANSACTIONS)]
    assert sum(size > 0 for size in private_sizes) == TRANSACTIONS


@pytest.mark.parametrize("uncommitted", [False, True], ids=["committed-chunks", "all-chunks"])
def test_ccf_read_ledger_reports_the_ledger_verified(
    ledger_dir: Path, built: tuple[LedgerWriter, list[AppendedEntry]], uncommitted: bool
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccf.read_ledger",
            *(["--uncommitted"] if uncommitted else []),
            str(ledger_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ledger verification complete" in result.stdout
    committed_end = max(
        int(p.name.split("-")[1].removesuffix(".committed")) for p in ledger_dir.glob("*.committed")
    )
    expected = built[1][-1].txid if uncommitted else built[1][committed_end - 1].txid
    assert f"verified until {expected}" in result.stdout


def test_ccf_receipt_checks_accept_sealchain_receipts(
    service: Service, built: tuple[LedgerWriter, list[AppendedEntry]]
) -> None:
    writer, entries = built
    for entry in entries[:-1]:
        document = writer.receipt(entry.txid.seqno).to_json()
        leaf = writer.receipt(entry.txid.seqno).leaf().hex()
        node_cert = x509.load_pem_x509_certificate(document["cert"].encode())
        root = ccf.receipt.root(leaf, document["proof"])
        ccf.receipt.verify(root, document["signature"], node_cert)
        ccf.receipt.check_endorsements(node_cert, service.service.cert, [])
        ccf.receipt.check_cert_chain(node_cert, service.service.cert, [])
