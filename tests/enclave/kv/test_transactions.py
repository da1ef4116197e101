"""Transactions as a user of the store sees them: snapshots, own writes, conflicts, retries."""

from __future__ import annotations

import pytest

from enclave.kv.execute import TooManyConflicts, execute
from enclave.kv.store import KvStore
from enclave.kv.transaction import Committed, Conflict, ReadOnly, Transaction, TransactionFinished

ACCOUNTS = "accounts"


def store_with(**values: bytes) -> KvStore:
    store = KvStore()
    tx = store.begin()
    for key, value in values.items():
        tx.put(ACCOUNTS, key.encode(), value)
    tx.commit()
    return store


def test_a_transaction_reads_the_snapshot_it_began_with() -> None:
    store = store_with(alice=b"100")
    reader = store.begin()
    writer = store.begin()
    writer.put(ACCOUNTS, b"alice", b"50")
    writer.put(ACCOUNTS, b"bob", b"50")
    writer.commit()

    assert reader.get(ACCOUNTS, b"alice") == b"100"
    assert reader.get(ACCOUNTS, b"bob") is None
    assert reader.scan(ACCOUNTS) == [(b"alice", b"100")]
    assert store.begin().get(ACCOUNTS, b"alice") == b"50"


def test_a_transaction_reads_its_own_writes_and_removals() -> None:
    store = store_with(alice=b"100", bob=b"7")
    tx = store.begin()
    tx.put(ACCOUNTS, b"alice", b"90")
    tx.put(ACCOUNTS, b"carol", b"10")
    tx.remove(ACCOUNTS, b"bob")

    assert tx.get(ACCOUNTS, b"alice") == b"90"
    assert tx.has(ACCOUNTS, b"carol")
    assert not tx.has(ACCOUNTS, b"bob")
    assert tx.scan(ACCOUNTS) == [(b"alice", b"90"), (b"carol", b"10")]


def test_reading_a_key_that_another_transaction_then_changed_is_a_conflict() -> None:
    store = store_with(alice=b"100")
    slow = store.begin()
    balance = int(slow.get(ACCOUNTS, b"alice") or b"0")
    fast = store.begin()
    fast.put(ACCOUNTS, b"alice", b"0")
    fast.commit()

    slow.put(ACCOUNTS, b"alice", str(balance - 10).encode())
    with pytest.raises(Conflict):
        slow.commit()
    assert store.version == 2
    assert store.begin().get(ACCOUNTS, b"alice") == b"0"


def test_reading_an_absent_key_that_another_transaction_then_created_is_a_conflict() -> None:
    store = store_with(alice=b"100")
    tx = store.begin()
    assert tx.get(ACCOUNTS, b"bob") is None
    other = store.begin()
    other.put(ACCOUNTS, b"bob", b"1")
    other.commit()

    tx.put(ACCOUNTS, b"bob", b"2")
    with pytest.raises(Conflict):
        tx.commit()


def test_a_key_inserted_into_a_scanned_range_is_a_phantom_conflict() -> None:
    store = store_with(a1=b"1", a3=b"3", b1=b"x")
    auditor = store.begin()
    total = sum(int(value) for _, value in auditor.scan(ACCOUNTS, prefix=b"a"))
    inserter = store.begin()
    inserter.put(ACCOUNTS, b"a2", b"2")
    inserter.commit()

    auditor.put(ACCOUNTS, b"total", str(total).encode())
    with pytest.raises(Conflict):
        auditor.commit()


def test_writes_outside_the_scanned_range_do_not_conflict() -> None:
    store = store_with(a1=b"1", a3=b"3", b1=b"x")
    scanner = store.begin()
    assert scanner.scan(ACCOUNTS, prefix=b"a", limit=1) == [(b"a1", b"1")]
    other = store.begin()
    other.put(ACCOUNTS, b"a2", b"2")  # after the last key the limited scan returned
    other.put(ACCOUNTS, b"b0", b"0")  # outside the prefix
    other.commit()

    scanner.put(ACCOUNTS, b"seen", b"a1")
    assert isinstance(scanner.commit(), Committed)


def test_scan_honours_start_limit_and_own_writes_in_key_order() -> None:
    store = store_with(k1=b"1", k2=b"2", k4=b"4", k5=b"5")
    tx = store.begin()
    tx.put(ACCOUNTS, b"k3", b"3")
    tx.remove(ACCOUNTS, b"k4")

    assert tx.scan(ACCOUNTS, prefix=b"k", start=b"k2", limit=3) == [
        (b"k2", b"2"),
        (b"k3", b"3"),
        (b"k5", b"5"),
    ]
    assert tx.scan(ACCOUNTS, start=b"k5") == [(b"k5", b"5")]
    assert tx.scan(ACCOUNTS, limit=0) == []
    with pytest.raises(ValueError, match="negative"):
        tx.scan(ACCOUNTS, limit=-1)


def test_blind_writes_never_conflict() -> None:
    store = store_with(alice=b"100")
    first = store.begin()
    second = store.begin()
    first.put(ACCOUNTS, b"alice", b"1")
    second.put(ACCOUNTS, b"alice", b"2")
    second.remove(ACCOUNTS, b"bob")

    assert first.commit() == Committed(2, first.write_set())
    assert isinstance(second.commit(), Committed)
    assert store.begin().get(ACCOUNTS, b"alice") == b"2"


def test_a_removed_key_reads_as_absent_and_its_tombstone_still_catches_conflicts() -> None:
    store = store_with(alice=b"100")
    reader = store.begin()
    assert reader.get(ACCOUNTS, b"alice") == b"100"
    remover = store.begin()
    remover.remove(ACCOUNTS, b"alice")
    assert remover.commit() == Committed(2, remover.write_set())

    after = store.begin()
    assert after.get(ACCOUNTS, b"alice") is None
    assert after.get_version(ACCOUNTS, b"alice") is None
    assert after.scan(ACCOUNTS) == []
    reader.put(ACCOUNTS, b"alice", b"90")
    with pytest.raises(Conflict):
        reader.commit()


def test_get_version_is_the_version_that_wrote_the_value() -> None:
    store = store_with(alice=b"100")
    tx = store.begin()
    tx.put(ACCOUNTS, b"bob", b"1")
    tx.commit()

    reader = store.begin()
    assert reader.get_version(ACCOUNTS, b"alice") == 1
    assert reader.get_version(ACCOUNTS, b"bob") == 2
    assert reader.get_version(ACCOUNTS, b"carol") is None


def test_the_write_set_is_canonical_and_carries_the_read_version_of_maps_read() -> None:
    store = store_with(alice=b"100")
    tx = store.begin()
    tx.get(ACCOUNTS, b"alice")
    tx.put(ACCOUNTS, b"zed", b"1")
    tx.put(ACCOUNTS, b"alice", b"99")
    tx.remove(ACCOUNTS, b"bob")
    tx.put("public:log", b"1", b"moved")

    result = tx.commit()

    assert isinstance(result, Committed)
    accounts = result.write_set.maps[ACCOUNTS]
    assert list(accounts.writes) == [b"alice", b"zed"]
    assert accounts.removals == frozenset({b"bob"})
    assert accounts.read_version == 1
    assert result.write_set.maps["public:log"].read_version == -1
    assert list(result.write_set.maps) == ["accounts", "public:log"]


def test_a_transaction_that_writes_nothing_uses_no_version() -> None:
    store = store_with(alice=b"100")
    tx = store.begin()
    tx.get(ACCOUNTS, b"alice")
    assert tx.commit() == ReadOnly(1)
    assert store.version == 1


def test_a_transaction_commits_once_and_bad_values_are_refused() -> None:
    store = KvStore()
    tx = store.begin()
    with pytest.raises(TypeError):
        tx.put(ACCOUNTS, "alice", b"1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tx.put(ACCOUNTS, b"alice", 1)  # type: ignore[arg-type]
    tx.put(ACCOUNTS, b"alice", b"1")
    tx.commit()
    with pytest.raises(TransactionFinished):
        tx.get(ACCOUNTS, b"alice")
    with pytest.raises(TransactionFinished):
        tx.commit()


def test_execute_re_runs_the_transaction_on_conflict() -> None:
    store = store_with(counter=b"0")
    runs: list[int] = []

    def increment(tx: Transaction) -> int:
        value = int(tx.get(ACCOUNTS, b"counter") or b"0") + 1
        if not runs:  # a concurrent increment lands while the first attempt is running
            interloper = store.begin()
            interloper.put(ACCOUNTS, b"counter", b"10")
            interloper.commit()
        runs.append(value)
        tx.put(ACCOUNTS, b"counter", str(value).encode())
        return value

    executed = execute(store, increment)

    assert executed.attempts == 2
    assert executed.value == 11
    assert runs == [1, 11]
    assert executed.result == Committed(3, executed.result.write_set)  # type: ignore[union-attr]
    assert store.begin().get(ACCOUNTS, b"counter") == b"11"


def test_execute_gives_up_after_max_attempts() -> None:
    store = store_with(counter=b"0")

    def always_overtaken(tx: Transaction) -> None:
        tx.get(ACCOUNTS, b"counter")
        interloper = store.begin()
        interloper.put(ACCOUNTS, b"counter", b"x")
        interloper.commit()
        tx.put(ACCOUNTS, b"counter", b"y")

    with pytest.raises(TooManyConflicts):
        execute(store, always_overtaken, max_attempts=3)
    assert store.version == 4
