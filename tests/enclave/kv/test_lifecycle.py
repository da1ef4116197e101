"""The store through consensus: apply at explicit versions, commit, rollback, snapshots."""

from __future__ import annotations

import pytest

from enclave.kv.committed_state import CommittedState, KeyChange, SnapshotFormatError, VersionedValue
from enclave.kv.store import KvStore, RollbackOfCommittedVersion, VersionError
from enclave.kv.transaction import Conflict
from enclave.kv.write_set import MapWrites, WriteSet

USERS = "users"
LOG = "public:log"


def writes(map_name: str, removals: frozenset[bytes] = frozenset(), **values: bytes) -> WriteSet:
    return WriteSet({map_name: MapWrites({key.encode(): value for key, value in values.items()}, removals)})


def everything(store: KvStore) -> dict[str, dict[bytes, bytes]]:
    """What a fresh transaction sees in every map the test uses."""
    tx = store.begin()
    return {name: dict(tx.scan(name)) for name in (USERS, LOG)}


def test_a_follower_applies_write_sets_at_the_versions_the_primary_chose() -> None:
    follower = KvStore()
    follower.apply(writes(USERS, alice=b"1"), 1)
    follower.apply(writes(LOG, entry=b"joined"), 2)
    follower.apply(writes(USERS, frozenset({b"alice"}), bob=b"2"), 3)

    assert follower.version == 3
    assert everything(follower) == {USERS: {b"bob": b"2"}, LOG: {b"entry": b"joined"}}
    assert follower.begin().get_version(USERS, b"bob") == 3


def test_apply_out_of_sequence_is_refused_and_changes_nothing() -> None:
    follower = KvStore()
    follower.apply(writes(USERS, alice=b"1"), 1)
    with pytest.raises(VersionError):
        follower.apply(writes(USERS, alice=b"2"), 3)
    with pytest.raises(VersionError):
        follower.apply(writes(USERS, alice=b"2"), 1)
    assert follower.version == 1
    assert everything(follower)[USERS] == {b"alice": b"1"}


def test_rollback_undoes_uncommitted_versions_exactly() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1", bob=b"1"), 1)
    store.apply(writes(USERS, alice=b"2"), 2)
    store.commit(2)
    before = everything(store)
    snapshot_before = store.snapshot()

    store.apply(writes(USERS, frozenset({b"bob"}), alice=b"3", carol=b"3"), 3)
    tx = store.begin()
    tx.put(LOG, b"entry", b"uncommitted")
    tx.commit()
    store.rollback(2)

    assert store.version == 2
    assert everything(store) == before
    assert store.begin().get_version(USERS, b"alice") == 2
    assert store.snapshot() == snapshot_before
    store.apply(writes(USERS, dave=b"4"), 3)  # the log goes on from the rollback point
    assert everything(store)[USERS] == {b"alice": b"2", b"bob": b"1", b"dave": b"4"}


def test_rolling_back_a_committed_version_is_our_bug() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1"), 1)
    store.apply(writes(USERS, alice=b"2"), 2)
    store.commit(2)
    with pytest.raises(RollbackOfCommittedVersion):
        store.rollback(1)
    assert store.version == 2
    assert everything(store)[USERS] == {b"alice": b"2"}


def test_a_transaction_begun_before_a_rollback_conflicts() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1"), 1)
    store.apply(writes(USERS, alice=b"2"), 2)
    tx = store.begin()
    assert tx.get(USERS, b"alice") == b"2"
    store.rollback(1)
    store.apply(writes(USERS, alice=b"other"), 2)  # same version number, different history

    tx.put(USERS, b"bob", b"x")
    with pytest.raises(Conflict):
        tx.commit()


def test_commit_returns_the_newest_committed_write_of_each_key() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1", bob=b"1"), 1)
    store.apply(writes(USERS, frozenset({b"bob"}), alice=b"2"), 2)
    store.apply(writes(USERS, carol=b"3"), 3)

    delta = store.commit(2)

    assert (delta.from_version, delta.to_version) == (0, 2)
    assert delta.changes == {USERS: {b"alice": KeyChange(2, 0, b"2"), b"bob": KeyChange(2, 1, None)}}
    assert store.commit_version == 2
    assert store.commit(2).is_empty()
    assert store.commit(3).changes == {USERS: {b"carol": KeyChange(3, 0, b"3")}}
    with pytest.raises(VersionError):
        store.commit(4)


def test_a_snapshot_read_whose_history_was_compacted_away_is_a_conflict() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1"), 1)
    old = store.begin()
    store.apply(writes(USERS, alice=b"2"), 2)
    store.commit(2)  # forgets that alice was 1 at version 1

    with pytest.raises(Conflict):
        old.get(USERS, b"alice")


def test_a_snapshot_holds_the_committed_state_only_and_restores_to_an_equal_store() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1", bob=b"1"), 1)
    store.apply(writes(LOG, entry=b"x"), 2)
    store.apply(writes(USERS, frozenset({b"bob"})), 3)
    store.commit(3)
    store.apply(writes(USERS, alice=b"pending"), 4)

    snapshot = store.snapshot()
    restored = KvStore.from_snapshot(snapshot)

    assert restored.version == restored.commit_version == 3
    assert restored.committed_state() == store.committed_state()
    assert restored.committed_state() == CommittedState(
        3, {USERS: {b"alice": VersionedValue(1, b"1")}, LOG: {b"entry": VersionedValue(2, b"x")}}
    )
    assert restored.snapshot() == snapshot
    assert restored.begin().get_version(LOG, b"entry") == 2


def test_a_corrupt_snapshot_is_refused() -> None:
    store = KvStore()
    store.apply(writes(USERS, alice=b"1"), 1)
    store.commit(1)
    snapshot = store.snapshot()

    for corrupt in (snapshot[:-1], b"\x00" + snapshot, b"", snapshot.replace(b"\x01", b"\x07", 1)):
        with pytest.raises(SnapshotFormatError):
            KvStore.from_snapshot(corrupt)
