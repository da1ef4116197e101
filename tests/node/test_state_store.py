"""The host's LMDB copy of the committed state: sealed on the way in, checked on the way out."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

from enclave.kv.state_sealing import PRIVATE_TABLE, StateSealer, TamperedState
from enclave.kv.store import KvStore
from node.state_store import StateStore, StateStoreError

STATE_KEY = bytes.fromhex("5e" * 32)
SECRET_KEY = b"SECRET-PLAINTEXT-7f3a-key"
SECRET_VALUE = b"SECRET-PLAINTEXT-7f3a-value"
PUBLIC_VALUE = b"PUBLIC-VALUE-visible-42"


def enclave_with_secrets() -> KvStore:
    store = KvStore()
    tx = store.begin()
    tx.put("private:accounts", SECRET_KEY, SECRET_VALUE)
    tx.put("private:accounts", b"to-remove", SECRET_VALUE + b"-2")
    tx.put("public:notices", b"welcome", PUBLIC_VALUE)
    tx.commit()
    tx = store.begin()
    tx.remove("private:accounts", b"to-remove")
    tx.put("private:accounts", b"k2", b"v2")
    tx.commit()
    tx = store.begin()
    tx.put("private:accounts", b"pending", b"not committed yet")
    tx.commit()
    return store


def materialise(store: KvStore, directory: Path, *, sync: bool = True) -> None:
    """Seal each committed version as Raft commits it, and let the host write the batches."""
    sealer = StateSealer(STATE_KEY)
    with StateStore(directory, sync=sync) as state_store:
        done = [state_store.submit(sealer.seal(store.commit(version))) for version in (1, 2)]
        for future in done:
            future.result(timeout=30)


def restart(directory: Path) -> KvStore:
    with StateStore(directory) as state_store:
        stored = state_store.load()
    return KvStore.from_committed_state(StateSealer(STATE_KEY).unseal(stored))


def test_secrets_stay_sealed_on_disk_and_a_restart_reads_back_an_equal_store(tmp_path: Path) -> None:
    store = enclave_with_secrets()
    materialise(store, tmp_path / "state")

    on_disk = b"".join(path.read_bytes() for path in (tmp_path / "state").rglob("*") if path.is_file())
    assert on_disk
    for secret in (SECRET_KEY, SECRET_VALUE, b"SECRET-PLAINTEXT-7f3a", b"not committed yet", STATE_KEY):
        assert secret not in on_disk
    assert b"private:accounts" not in on_disk  # even private map names stay inside the enclave
    assert PUBLIC_VALUE in on_disk

    restored = restart(tmp_path / "state")
    assert restored.committed_state() == store.committed_state()
    assert restored.version == 2
    reader = restored.begin()
    assert reader.get("private:accounts", SECRET_KEY) == SECRET_VALUE
    assert reader.get("private:accounts", b"to-remove") is None
    assert reader.get("private:accounts", b"pending") is None


def test_many_batches_queued_at_once_land_in_order(tmp_path: Path) -> None:
    store = KvStore()
    sealer = StateSealer(STATE_KEY)
    with StateStore(tmp_path / "state", sync=False) as state_store:
        done = []
        for version in range(1, 101):
            tx = store.begin()
            tx.put("private:counter", b"value", str(version).encode())
            tx.put("private:history", str(version).encode(), b"seen")
            if version > 1:
                tx.remove("private:history", str(version - 1).encode())
            tx.commit()
            done.append(state_store.submit(sealer.seal(store.commit(version))))
        for future in done:
            future.result(timeout=30)

    restored = restart(tmp_path / "state")
    assert restored.committed_state() == store.committed_state()
    assert restored.begin().scan("private:history") == [(b"100", b"seen")]


def test_without_fsync_the_state_is_still_complete_after_a_clean_close(tmp_path: Path) -> None:
    store = enclave_with_secrets()
    materialise(store, tmp_path / "state", sync=False)
    assert restart(tmp_path / "state").committed_state() == store.committed_state()


def test_an_empty_state_directory_restores_an_empty_store(tmp_path: Path) -> None:
    assert restart(tmp_path / "state").committed_state() == KvStore().committed_state()


def test_a_private_record_tampered_in_lmdb_is_rejected_at_load(tmp_path: Path) -> None:
    materialise(enclave_with_secrets(), tmp_path / "state")
    env = lmdb.open(str(tmp_path / "state"), max_dbs=4)
    private = env.open_db(PRIVATE_TABLE.encode())
    with env.begin(write=True, db=private) as txn:
        key, value = next(iter(txn.cursor()))
        flipped = bytearray(value)
        flipped[-1] ^= 0x80
        txn.put(key, bytes(flipped))
    env.close()

    with StateStore(tmp_path / "state") as state_store:
        stored = state_store.load()
    with pytest.raises(TamperedState, match="fails authentication"):
        StateSealer(STATE_KEY).unseal(stored)


def test_a_write_beyond_the_map_size_fails_and_the_store_refuses_further_batches(tmp_path: Path) -> None:
    store = KvStore()
    tx = store.begin()
    for index in range(200):
        tx.put("private:blobs", index.to_bytes(4, "big"), bytes(1024))
    tx.commit()
    sealer = StateSealer(STATE_KEY)
    batch = sealer.seal(store.commit(1))
    with StateStore(tmp_path / "state", map_size=64 * 1024) as state_store:
        with pytest.raises(lmdb.MapFullError):
            state_store.submit(batch).result(timeout=30)
        with pytest.raises(StateStoreError, match="earlier state write failed"):
            state_store.submit(batch)
    with StateStore(tmp_path / "state", map_size=64 * 1024) as state_store:
        assert state_store.load().version_record is None


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    state_store = StateStore(tmp_path / "state")
    state_store.close()
    state_store.close()
    with pytest.raises(StateStoreError, match="closed"):
        state_store.load()


def test_a_clear_empties_the_store_and_later_batches_apply_to_the_empty_one(tmp_path: Path) -> None:
    store = enclave_with_secrets()
    materialise(store, tmp_path / "state")
    after = KvStore()
    tx = after.begin()
    tx.put("private:later", b"k", b"v")
    tx.commit()
    with StateStore(tmp_path / "state") as state_store:
        state_store.clear()
        state_store.submit(StateSealer(STATE_KEY).seal(after.commit(1))).result(timeout=30)
    assert restart(tmp_path / "state").committed_state() == after.committed_state()
