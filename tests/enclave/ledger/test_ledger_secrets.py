"""Ledger secrets by version, and the commit evidence derived from them."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecretError, LedgerSecrets
from enclave.ledger.txid import TxId, TxIdFormatError

FIRST = LedgerSecret(bytes([1]) * 32)
SECOND = LedgerSecret(bytes([2]) * 32)


def test_each_secret_applies_from_its_seqno_on() -> None:
    secrets = LedgerSecrets.single(FIRST)
    secrets.add(50, SECOND)
    assert secrets.secret_for(1) is FIRST
    assert secrets.secret_for(49) is FIRST
    assert secrets.secret_for(50) is SECOND
    assert secrets.secret_for(10**9) is SECOND
    with pytest.raises(LedgerSecretError):
        secrets.secret_for(0)


def test_rekeying_must_move_forward() -> None:
    secrets = LedgerSecrets.single(FIRST, from_seqno=10)
    with pytest.raises(LedgerSecretError):
        secrets.add(10, SECOND)
    assert secrets.versions() == [(10, FIRST)]


def test_a_secret_is_32_bytes_and_never_printed() -> None:
    with pytest.raises(LedgerSecretError):
        LedgerSecret(bytes(16))
    assert FIRST.key.hex() not in repr(FIRST)
    assert "01010101" not in repr(FIRST)


def test_commit_evidence_is_ccfs_string_and_differs_per_txid_and_secret() -> None:
    evidence = FIRST.commit_evidence(TxId(2, 41))
    prefix, txid, nonce = evidence.split(":")
    assert (prefix, txid) == ("ce", "2.41")
    assert nonce == hmac.new(FIRST.commit_secret, b"2.41", hashlib.sha256).hexdigest()
    assert FIRST.commit_secret != FIRST.key
    assert evidence != FIRST.commit_evidence(TxId(3, 41)) != SECOND.commit_evidence(TxId(2, 41))


def test_txids_parse_and_print_as_view_dot_seqno() -> None:
    assert TxId.parse("2.41") == TxId(2, 41)
    assert str(TxId(2, 41)) == "2.41"
    for bad in ("2", "a.b", "2.-1", ""):
        with pytest.raises(TxIdFormatError):
            TxId.parse(bad)
