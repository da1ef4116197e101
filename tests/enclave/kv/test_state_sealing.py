"""Sealing the committed state for the host: private maps encrypted, public maps readable, every
record authenticated, nonces never repeated."""

from __future__ import annotations

import dataclasses

import pytest

from enclave.kv.committed_state import CommittedDelta
from enclave.kv.state_sealing import (
    PRIVATE_TABLE,
    PUBLIC_TABLE,
    StateSealer,
    StoredRecord,
    StoredState,
    TamperedState,
)
from enclave.kv.store import KvStore

STATE_KEY = bytes.fromhex("11" * 32)
SECRET = b"SECRET-PLAINTEXT-7f3a"


def committed_store() -> tuple[KvStore, CommittedDelta]:
    store = KvStore()
    tx = store.begin()
    tx.put("secrets", SECRET + b"-key", SECRET + b"-value")
    tx.put("secrets", b"other", b"x")
    tx.put("public:notice", b"hello", b"PUBLIC-VALUE-9c1d")
    tx.commit()
    tx = store.begin()
    tx.remove("secrets", b"other")
    tx.put("secrets", b"third", b"y")
    tx.commit()
    return store, store.commit(store.version)


def stored(sealer: StateSealer, delta: CommittedDelta) -> StoredState:
    batch = sealer.seal(delta)
    return StoredState(batch.version_record, batch.records)


def test_sealed_records_restore_the_committed_state() -> None:
    store, delta = committed_store()
    sealer = StateSealer(STATE_KEY)

    assert sealer.unseal(stored(sealer, delta)) == store.committed_state()


def test_private_keys_and_values_are_not_in_any_record_but_public_values_are() -> None:
    _, delta = committed_store()
    batch = StateSealer(STATE_KEY).seal(delta)
    everything = b"".join(r.key + r.value for r in batch.records) + batch.version_record
    everything += b"".join(d.key for d in batch.deletions)

    assert SECRET not in everything
    assert b"secrets" not in everything
    assert STATE_KEY not in everything
    assert b"PUBLIC-VALUE-9c1d" in everything
    assert {r.table for r in batch.records} == {PUBLIC_TABLE, PRIVATE_TABLE}
    assert [d.table for d in batch.deletions] == [PRIVATE_TABLE]


def history(store: KvStore, versions: int) -> KvStore:
    for version in range(1, versions + 1):
        tx = store.begin()
        for key in (b"a", b"b", b"c"):
            tx.put("secrets", key, str(version).encode())  # same keys, a new value each version
        tx.put("more", b"a", b"same value")
        tx.commit()
    return store


def test_a_nonce_never_seals_two_different_plaintexts() -> None:
    sealer = StateSealer(STATE_KEY)
    one_at_a_time = history(KvStore(), 3)
    batches = [sealer.seal(one_at_a_time.commit(version)) for version in (1, 2, 3)]
    all_at_once = history(KvStore(), 3)
    batches.append(sealer.seal(all_at_once.commit(3)))
    sealed_by_nonce: dict[bytes, set[bytes]] = {}
    for batch in batches:
        nonces = [r.value[:12] for r in batch.records if r.table == PRIVATE_TABLE]
        assert len(nonces) == len(set(nonces))
        for record in batch.records:
            if record.table == PRIVATE_TABLE:
                sealed_by_nonce.setdefault(record.value[:12], set()).add(record.value)

    assert len(sealed_by_nonce) == 3 * 4
    assert all(len(sealed) == 1 for sealed in sealed_by_nonce.values())


def test_a_flipped_byte_in_any_record_is_detected() -> None:
    _, delta = committed_store()
    sealer = StateSealer(STATE_KEY)
    state = stored(sealer, delta)
    for index, record in enumerate(state.records):
        for position in (0, 11, 12, len(record.value) - 1):
            value = bytearray(record.value)
            value[position] ^= 0x01
            records = list(state.records)
            records[index] = dataclasses.replace(record, value=bytes(value))
            with pytest.raises(TamperedState):
                sealer.unseal(StoredState(state.version_record, tuple(records)))


def test_records_moved_between_keys_truncated_or_under_a_forged_version_are_detected() -> None:
    _, delta = committed_store()
    sealer = StateSealer(STATE_KEY)
    state = stored(sealer, delta)
    private = [r for r in state.records if r.table == PRIVATE_TABLE]
    swapped = (
        StoredRecord(PRIVATE_TABLE, private[0].key, private[1].value),
        StoredRecord(PRIVATE_TABLE, private[1].key, private[0].value),
    )
    version_record = bytearray(state.version_record or b"")
    version_record[7] += 1
    tampered_states = [
        StoredState(state.version_record, swapped),
        StoredState(
            state.version_record, (StoredRecord(PRIVATE_TABLE, private[0].key, private[0].value[:20]),)
        ),
        StoredState(state.version_record, (StoredRecord("elsewhere", b"k", b"v"),)),
        StoredState(bytes(version_record), state.records),
        StoredState(None, state.records),
    ]
    for tampered in tampered_states:
        with pytest.raises(TamperedState):
            sealer.unseal(tampered)


def test_another_state_key_cannot_read_the_records() -> None:
    _, delta = committed_store()
    state = stored(StateSealer(STATE_KEY), delta)
    with pytest.raises(TamperedState):
        StateSealer(bytes(32)).unseal(state)
    with pytest.raises(ValueError, match="32 bytes"):
        StateSealer(b"short")
