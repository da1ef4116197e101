"""The ledger writer: signature transactions per policy, receipts, rollback, a follower's copy, rekeying."""

from __future__ import annotations

import json

import pytest

from enclave.kv.write_set import WriteSet
from enclave.ledger.entry import decode_entry
from enclave.ledger.ledger_secrets import LedgerSecret
from enclave.ledger.receipts import verify_receipt
from enclave.ledger.signatures import PrimarySignature, SignaturePolicy, TreeCheckpoint
from enclave.ledger.tables import SIGNATURES, SINGLETON_KEY, TREE, genesis_write_set
from enclave.ledger.txid import TxId
from enclave.ledger.writer import LedgerWriterError
from tests.enclave.ledger.ledger_scenario import (
    PRIVATE_MAP,
    Service,
    build_entries,
    secret_value,
    transaction,
)

NEVER_BY_TIME = 10**12


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(11)


def test_a_signature_is_due_after_n_transactions(service: Service) -> None:
    writer = service.writer(SignaturePolicy(max_transactions=3, max_interval_ms=NEVER_BY_TIME))
    for i in range(2):
        writer.append(transaction(i), term=1)
        assert writer.maybe_sign(now_ms=i) is None
    writer.append(transaction(2), term=1)
    signature = writer.maybe_sign(now_ms=3)
    assert signature is not None and signature.committable and signature.txid == TxId(1, 4)
    assert writer.unsigned_transactions == 0
    assert writer.maybe_sign(now_ms=NEVER_BY_TIME) is None  # nothing new to sign


def test_a_signature_is_due_after_t_milliseconds(service: Service) -> None:
    writer = service.writer(SignaturePolicy(max_transactions=1000, max_interval_ms=50))
    writer.append(transaction(0), term=1)
    assert writer.maybe_sign(now_ms=49) is None
    assert writer.maybe_sign(now_ms=50) is not None


def test_the_signature_entry_signs_the_root_of_every_earlier_entry(service: Service) -> None:
    writer = service.writer(SignaturePolicy())
    writer.append(genesis_write_set(service.service.cert_pem, service.node), term=2)
    writer.append(transaction(0), term=2)
    root = writer.merkle_root()
    entry = decode_entry(writer.sign(now_ms=0).raw)
    signature = PrimarySignature.decode(entry.public_maps[SIGNATURES].writes[SINGLETON_KEY])
    assert signature.txid == TxId(2, 3) and signature.root == root and signature.node == service.node.node_id
    assert json.loads(signature.encode()).keys() == {"seqno", "view", "node", "root", "sig"}
    checkpoint = TreeCheckpoint.decode(entry.public_maps[TREE].writes[SINGLETON_KEY])
    assert checkpoint.size == 3 and checkpoint.root() == root


def test_every_signed_transaction_gets_a_receipt_that_verifies(service: Service) -> None:
    writer, entries = build_entries(
        service, 12, SignaturePolicy(max_transactions=4, max_interval_ms=NEVER_BY_TIME)
    )
    for entry in entries:
        receipt = writer.receipt(entry.txid.seqno) if entry.txid.seqno < writer.last_txid.seqno else None
        if receipt is not None:
            assert verify_receipt(receipt, service.service.cert) == entry.txid


def test_no_receipt_before_a_signature_covers_the_transaction(service: Service) -> None:
    writer = service.writer(SignaturePolicy())
    writer.append(transaction(0), term=1)
    with pytest.raises(LedgerWriterError):
        writer.receipt(1)


def test_terms_never_go_back(service: Service) -> None:
    writer = service.writer(SignaturePolicy())
    writer.append(transaction(0), term=3)
    with pytest.raises(LedgerWriterError):
        writer.append(transaction(1), term=2)


def test_rollback_then_a_new_term_rebuilds_the_same_tree_as_a_fresh_writer(service: Service) -> None:
    policy = SignaturePolicy(max_transactions=1000, max_interval_ms=NEVER_BY_TIME)
    writer = service.writer(policy)
    kept = [writer.append(transaction(i), term=1) for i in range(3)]
    kept.append(writer.sign(now_ms=0))
    writer.append(transaction(99), term=1)  # uncommitted, lost with the old primary
    writer.truncate(4)
    replacement = writer.append(transaction(3), term=2)
    assert replacement.txid == TxId(2, 5)

    fresh = service.writer(policy)
    for entry in kept:
        fresh.record_replicated(entry.raw)
    fresh.append(transaction(3), term=2)
    assert writer.merkle_root() == fresh.merkle_root()
    assert writer.receipt(2) == fresh.receipt(2)


def test_a_follower_recording_the_primarys_entries_can_serve_the_same_receipts(service: Service) -> None:
    primary, entries = build_entries(
        service, 10, SignaturePolicy(max_transactions=4, max_interval_ms=NEVER_BY_TIME)
    )
    follower = Service(service.service, service.node, service.secret).writer(SignaturePolicy())
    for entry in entries:
        assert follower.record_replicated(entry.raw).committable == entry.committable
    assert follower.merkle_root() == primary.merkle_root()
    assert follower.receipt(5) == primary.receipt(5)


def test_rekeying_encrypts_later_entries_with_the_new_secret(service: Service) -> None:
    rekeyed = Service(service.service, service.node, service.secret)
    new_secret = LedgerSecret(bytes(range(32)))
    rekeyed.secrets.add(3, new_secret)
    writer = rekeyed.writer(SignaturePolicy())
    raws = [writer.append(transaction(i), term=1).raw for i in range(4)]
    assert decode_entry(raws[1]).decrypt_private(service.secret)[PRIVATE_MAP].writes
    private = decode_entry(raws[2]).decrypt_private(new_secret)[PRIVATE_MAP]
    assert list(private.writes.values()) == [secret_value(2)]
    writer.sign(now_ms=0)
    assert verify_receipt(writer.receipt(3), service.service.cert) == TxId(1, 3)


def test_genesis_extras_may_not_overwrite_the_genesis_maps(service: Service) -> None:
    clash = WriteSet(genesis_write_set(service.service.cert_pem, service.node).maps)
    with pytest.raises(ValueError, match="overlap"):
        genesis_write_set(service.service.cert_pem, service.node, extra=clash)


def test_a_follower_rejects_a_signature_that_does_not_sign_its_tree(service: Service) -> None:
    policy = SignaturePolicy(max_transactions=100, max_interval_ms=NEVER_BY_TIME)
    _, entries = build_entries(service, 3, policy)
    *agreed, last_transaction, signature = entries
    assert signature.committable and not last_transaction.committable
    impostor = service.writer(policy)
    follower = service.writer(policy)
    for entry in agreed:
        impostor.record_replicated(entry.raw)
        follower.record_replicated(entry.raw)
    follower.record_replicated(impostor.append(transaction(99), term=2).raw)
    with pytest.raises(LedgerWriterError, match="does not sign"):
        follower.record_replicated(signature.raw)
    assert follower.last_txid == last_transaction.txid
