"""Receipts verify with only the service certificate, and every alteration is caught."""

from __future__ import annotations

import dataclasses
import json

import pytest

from enclave.ledger.merkle import ProofStep
from enclave.ledger.receipts import Receipt, ReceiptFormatError, ReceiptInvalidError, verify_receipt
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.txid import TxId
from tests.enclave.ledger.ledger_scenario import Service, build_entries


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(21)


@pytest.fixture(scope="module")
def receipt(service: Service) -> Receipt:
    writer, _ = build_entries(service, 9, SignaturePolicy(max_transactions=5, max_interval_ms=10**12))
    return writer.receipt(6)


def test_a_receipt_proves_its_transaction(service: Service, receipt: Receipt) -> None:
    assert verify_receipt(receipt, service.service.cert) == TxId(2, 6)


def test_the_json_form_round_trips(receipt: Receipt) -> None:
    document = json.loads(json.dumps(receipt.to_json()))
    assert set(document) == {"cert", "node_id", "leaf_components", "proof", "signature"}
    assert Receipt.from_json(document) == receipt


@pytest.mark.parametrize(
    "change",
    [
        lambda r: dataclasses.replace(r, write_set_digest=bytes(32)),
        lambda r: dataclasses.replace(r, commit_evidence=r.commit_evidence[:-1] + "0"),
        lambda r: dataclasses.replace(r, claims_digest=b"\x01" * 32),
        lambda r: dataclasses.replace(r, proof=(ProofStep("left", bytes(32)), *r.proof[1:])),
        lambda r: dataclasses.replace(r, proof=r.proof[:-1]),
        lambda r: dataclasses.replace(r, signature=r.signature[:-2] + bytes(2)),
    ],
    ids=["write_set_digest", "commit_evidence", "claims_digest", "proof_step", "proof_short", "signature"],
)
def test_an_altered_receipt_is_invalid(service: Service, receipt: Receipt, change: object) -> None:
    assert callable(change)
    with pytest.raises(ReceiptInvalidError):
        verify_receipt(change(receipt), service.service.cert)


def test_a_receipt_does_not_verify_against_another_service(receipt: Receipt) -> None:
    with pytest.raises(ReceiptInvalidError, match="not endorsed"):
        verify_receipt(receipt, Service.create(22).service.cert)


@pytest.mark.parametrize(
    "document",
    [[], {}, {"cert": 1}, {"proof": [{"up": "00"}]}],
)
def test_malformed_documents_are_format_errors(receipt: Receipt, document: object) -> None:
    if isinstance(document, dict) and document:
        document = receipt.to_json() | document
    with pytest.raises(ReceiptFormatError):
        Receipt.from_json(document)
