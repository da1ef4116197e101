"""Ledger entries: CCF's byte layout, encryption of private maps, and a strict parser."""

from __future__ import annotations

import hashlib
import struct

import ccf.ledger
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.entry import (
    ENTRY_FORMAT_V1,
    HEADER_SIZE,
    EntryFormatError,
    MalformedDomainError,
    PrivateDomainAuthError,
    TruncatedEntryError,
    UnsupportedEntryError,
    decode_entry,
    encode_entry,
    read_frame,
)
from enclave.ledger.ledger_secrets import LedgerSecret
from enclave.ledger.txid import TxId

SECRET = LedgerSecret(bytes(range(32)))
EVIDENCE = hashlib.sha256(b"ce:3.17:00").digest()
WRITE_SET = WriteSet(
    {
        "public:app.accounts": MapWrites(
            writes={b"alice": b"100", b"bob": b"7"}, removals=frozenset({b"carol"})
        ),
        "app.private": MapWrites(writes={b"pin": b"1234"}, read_version=12),
    }
)


TXID = TxId(3, 17)


def entry_bytes(write_set: WriteSet = WRITE_SET, txid: TxId = TXID) -> bytes:
    return encode_entry(txid, write_set, SECRET, EVIDENCE)


def test_public_maps_round_trip_and_private_maps_need_the_secret() -> None:
    entry = decode_entry(entry_bytes())
    assert entry.txid == TxId(3, 17)
    assert entry.public_maps == WRITE_SET.public()
    assert entry.commit_evidence_digest == EVIDENCE
    assert entry.decrypt_private(SECRET) == WRITE_SET.private()
    with pytest.raises(PrivateDomainAuthError):
        entry.decrypt_private(LedgerSecret(bytes(32)))


def test_ccf_reads_the_layout() -> None:
    raw = entry_bytes()
    transaction = ccf.ledger.Transaction(ccf.ledger.SimpleBuffer("entry", raw))
    assert transaction.get_txid() == "3.17"
    public = transaction.get_public_domain()
    assert public.get_seqno() == 17
    assert public.get_tables()["public:app.accounts"] == {b"alice": b"100", b"bob": b"7", b"carol": None}
    assert public.get_commit_evidence_digest() == EVIDENCE
    assert transaction.get_write_set_digest() == hashlib.sha256(raw).digest()
    assert transaction.get_private_domain_size() == decode_entry(raw).private_domain_size > 0


def test_iv_is_seqno_then_term_little_endian() -> None:
    raw = entry_bytes(txid=TxId(5, 300))
    assert raw[0] == ENTRY_FORMAT_V1
    assert raw[HEADER_SIZE + 16 : HEADER_SIZE + 28] == struct.pack("<QI", 300, 5)


def test_private_ciphertext_and_public_domain_are_both_authenticated() -> None:
    raw = bytearray(entry_bytes())
    raw[-1] ^= 1
    with pytest.raises(PrivateDomainAuthError):
        decode_entry(bytes(raw)).decrypt_private(SECRET)
    raw = bytearray(entry_bytes())
    at = raw.index(b"alice")
    raw[at] ^= 1
    with pytest.raises(PrivateDomainAuthError):
        decode_entry(bytes(raw)).decrypt_private(SECRET)


def test_an_entry_cut_short_is_a_truncation() -> None:
    raw = entry_bytes()
    with pytest.raises(TruncatedEntryError):
        read_frame(raw[:-1])


def test_unknown_versions_and_trailing_bytes_are_rejected() -> None:
    raw = entry_bytes()
    with pytest.raises(UnsupportedEntryError):
        decode_entry(b"\x02" + raw[1:])
    with pytest.raises(MalformedDomainError):
        decode_entry(raw + b"\x00")


def test_a_private_map_in_the_public_domain_is_rejected() -> None:
    sneaky = WriteSet({"public:x": MapWrites(writes={b"k": b"v"})})
    raw = bytearray(entry_bytes(sneaky))
    at = raw.index(b"public:x")
    raw[at : at + 8] = b"private!"
    with pytest.raises(MalformedDomainError):
        decode_entry(bytes(raw))


@given(st.integers(min_value=0, max_value=400))
def test_every_truncation_is_an_entry_format_error(cut: int) -> None:
    raw = entry_bytes()
    if cut < len(raw):
        with pytest.raises(EntryFormatError):
            decode_entry(raw[:cut])


@given(st.binary(max_size=300))
def test_garbage_is_an_entry_format_error(garbage: bytes) -> None:
    with pytest.raises(EntryFormatError):
        decode_entry(garbage)


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0))
def test_corrupted_entries_parse_or_fail_with_an_entry_format_error(noise: bytes, where: int) -> None:
    raw = bytearray(entry_bytes())
    at = where % len(raw)
    raw[at : at + len(noise)] = noise
    try:
        entry = decode_entry(bytes(raw))
        entry.decrypt_private(SECRET)
    except EntryFormatError:
        pass


_blobs = st.binary(max_size=12)


@given(
    st.dictionaries(
        st.sampled_from(["public:a", "public:b", "c", "d"]),
        st.tuples(st.dictionaries(_blobs, _blobs, max_size=4), st.frozensets(_blobs, max_size=3)),
        max_size=4,
    )
)
def test_any_write_set_round_trips(maps: dict[str, tuple[dict[bytes, bytes], frozenset[bytes]]]) -> None:
    write_set = WriteSet({n: MapWrites(writes=w, removals=r - w.keys()) for n, (w, r) in maps.items()})
    entry = decode_entry(entry_bytes(write_set))
    assert entry.public_maps == write_set.public()
    assert entry.decrypt_private(SECRET) == write_set.private()
