"""SmallBank: each procedure's rule as a scenario, and its refusals, which change nothing."""

from __future__ import annotations

import msgpack
import pytest

from enclave.apps import registry, smallbank
from enclave.kv.store import KvStore
from enclave.kv.transaction import Conflict
from tests.enclave.apps.calls import ALICE, call, refused


def bank(**accounts: tuple[int, int]) -> KvStore:
    """A store holding `name=(checking, savings)` accounts."""
    store = KvStore()
    for name, (checking, savings) in accounts.items():
        call(store, "smallbank.create_account", {"name": name, "checking": checking, "savings": savings})
    return store


def balance(store: KvStore, name: str) -> object:
    return call(store, "smallbank.balance", {"name": name})


def test_a_new_account_holds_its_initial_balances() -> None:
    store = bank(alice=(100, 50))
    assert balance(store, "alice") == {"checking": 100, "savings": 50, "total": 150}


def test_an_account_may_start_empty_and_names_are_unicode() -> None:
    store = bank(**{"zoë": (0, 0)})
    assert balance(store, "zoë") == {"checking": 0, "savings": 0, "total": 0}
    tx = store.begin()
    assert tx.get(smallbank.CHECKING, "zoë".encode()) == msgpack.packb(0)


def test_creating_an_account_twice_is_refused() -> None:
    store = bank(alice=(100, 50))
    error = refused(store, "smallbank.create_account", {"name": "alice", "checking": 1, "savings": 1})
    assert error.code == "AccountExists"


def test_deposit_checking_adds_to_checking() -> None:
    store = bank(alice=(100, 50))
    assert call(store, "smallbank.deposit_checking", {"name": "alice", "amount": 25}) == {"checking": 125}
    assert balance(store, "alice") == {"checking": 125, "savings": 50, "total": 175}


def test_transact_savings_deposits_and_withdraws_but_never_below_zero() -> None:
    store = bank(alice=(100, 50))
    assert call(store, "smallbank.transact_savings", {"name": "alice", "amount": 10}) == {"savings": 60}
    assert call(store, "smallbank.transact_savings", {"name": "alice", "amount": -60}) == {"savings": 0}
    error = refused(store, "smallbank.transact_savings", {"name": "alice", "amount": -1})
    assert error.code == "InsufficientFunds"
    assert refused(store, "smallbank.transact_savings", {"name": "alice", "amount": 0}).code == "BadAmount"


def test_amalgamate_moves_everything_into_the_targets_checking() -> None:
    store = bank(alice=(100, 50), bob=(7, 3))
    assert call(store, "smallbank.amalgamate", {"from": "alice", "to": "bob"}) == {"moved": 150}
    assert balance(store, "alice") == {"checking": 0, "savings": 0, "total": 0}
    assert balance(store, "bob") == {"checking": 157, "savings": 3, "total": 160}


def test_amalgamate_moves_a_negative_checking_too() -> None:
    store = bank(alice=(0, 10), bob=(5, 0))
    call(store, "smallbank.write_check", {"name": "alice", "amount": 30})  # checking -31
    assert call(store, "smallbank.amalgamate", {"from": "alice", "to": "bob"}) == {"moved": -21}
    assert balance(store, "bob") == {"checking": -16, "savings": 0, "total": -16}


def test_write_check_covered_by_the_total_charges_the_amount() -> None:
    store = bank(alice=(10, 50))
    result = call(store, "smallbank.write_check", {"name": "alice", "amount": 60})
    assert result == {"charged": 60, "checking": -50}
    assert balance(store, "alice") == {"checking": -50, "savings": 50, "total": 0}


def test_write_check_beyond_the_total_charges_the_overdraft_penalty() -> None:
    store = bank(alice=(10, 50))
    result = call(store, "smallbank.write_check", {"name": "alice", "amount": 61})
    assert result == {"charged": 62, "checking": -52}


def test_send_payment_moves_checking_when_covered() -> None:
    store = bank(alice=(100, 0), bob=(0, 0))
    assert call(store, "smallbank.send_payment", {"from": "alice", "to": "bob", "amount": 100}) == {}
    assert balance(store, "alice") == {"checking": 0, "savings": 0, "total": 0}
    assert balance(store, "bob") == {"checking": 100, "savings": 0, "total": 100}


def test_send_payment_is_not_covered_by_savings() -> None:
    store = bank(alice=(10, 1000), bob=(0, 0))
    error = refused(store, "smallbank.send_payment", {"from": "alice", "to": "bob", "amount": 11})
    assert error.code == "InsufficientFunds"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("smallbank.balance", {"name": "carol"}),
        ("smallbank.deposit_checking", {"name": "carol", "amount": 1}),
        ("smallbank.transact_savings", {"name": "carol", "amount": 1}),
        ("smallbank.write_check", {"name": "carol", "amount": 1}),
        ("smallbank.amalgamate", {"from": "carol", "to": "alice"}),
        ("smallbank.amalgamate", {"from": "alice", "to": "carol"}),
        ("smallbank.send_payment", {"from": "carol", "to": "alice", "amount": 1}),
        ("smallbank.send_payment", {"from": "alice", "to": "carol", "amount": 1}),
    ],
)
def test_an_unknown_account_is_refused(name: str, args: dict[str, object]) -> None:
    error = refused(bank(alice=(100, 100)), name, args)
    assert error.code == "UnknownAccount"
    assert "carol" in error.message


@pytest.mark.parametrize(
    ("name", "args", "code", "mentions"),
    [
        ("smallbank.create_account", {"name": "bob", "checking": -1, "savings": 0}, "BadAmount", "checking"),
        (
            "smallbank.create_account",
            {"name": "bob", "checking": 0, "savings": 10**12 + 1},
            "BadAmount",
            "savings",
        ),
        ("smallbank.create_account", {"name": "bob", "checking": 0}, "InvalidArguments", "savings"),
        ("smallbank.create_account", {"name": "", "checking": 0, "savings": 0}, "InvalidArguments", "name"),
        (
            "smallbank.create_account",
            {"name": "x" * 65, "checking": 0, "savings": 0},
            "InvalidArguments",
            "name",
        ),
        (
            "smallbank.create_account",
            {"name": "bob", "checking": 1.5, "savings": 0},
            "InvalidArguments",
            "checking",
        ),
        ("smallbank.deposit_checking", {"name": "alice", "amount": 0}, "BadAmount", "amount"),
        ("smallbank.deposit_checking", {"name": "alice", "amount": -5}, "BadAmount", "amount"),
        ("smallbank.deposit_checking", {"name": "alice", "amount": True}, "InvalidArguments", "amount"),
        ("smallbank.deposit_checking", {"name": "alice", "amount": "5"}, "InvalidArguments", "amount"),
        ("smallbank.deposit_checking", {"name": b"alice", "amount": 5}, "InvalidArguments", "name"),
        (
            "smallbank.deposit_checking",
            {"name": "alice", "amount": 5, "memo": "x"},
            "InvalidArguments",
            "memo",
        ),
        ("smallbank.transact_savings", {"name": "alice", "amount": -(10**12) - 1}, "BadAmount", "amount"),
        ("smallbank.write_check", {"name": "alice", "amount": 10**12 + 1}, "BadAmount", "amount"),
        ("smallbank.amalgamate", {"from": "alice", "to": "alice"}, "InvalidArguments", "different"),
        ("smallbank.amalgamate", {"from": "alice"}, "InvalidArguments", "to"),
        (
            "smallbank.send_payment",
            {"from": "alice", "to": "alice", "amount": 1},
            "InvalidArguments",
            "different",
        ),
        ("smallbank.send_payment", {"from": "alice", "to": "bob", "amount": 0}, "BadAmount", "amount"),
        ("smallbank.balance", {}, "InvalidArguments", "name"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(
    name: str, args: dict[str, object], code: str, mentions: str
) -> None:
    error = refused(bank(alice=(100, 100), bob=(0, 0)), name, args)
    assert error.code == code
    assert mentions in error.message


def test_a_balance_that_would_leave_the_msgpack_range_is_refused() -> None:
    store = bank(alice=(0, 0), bob=(1, 1), carol=(0, 0))
    tx = store.begin()  # states only long runs of deposits and overdrawn checks reach
    tx.put(smallbank.CHECKING, b"alice", msgpack.packb(smallbank.MAX_BALANCE))
    tx.put(smallbank.CHECKING, b"carol", msgpack.packb(-smallbank.MAX_BALANCE))
    tx.commit()
    calls: list[tuple[str, dict[str, object]]] = [
        ("smallbank.deposit_checking", {"name": "alice", "amount": 1}),
        ("smallbank.amalgamate", {"from": "bob", "to": "alice"}),
        ("smallbank.send_payment", {"from": "bob", "to": "alice", "amount": 1}),
        ("smallbank.write_check", {"name": "carol", "amount": 1}),
    ]
    for name, args in calls:
        assert refused(store, name, args).code == "BalanceLimit", name


@pytest.mark.parametrize(
    "stored",
    [b"\xc1", msgpack.packb("100"), msgpack.packb(True), msgpack.packb(1) + b"\x00", None],
)
def test_malformed_stored_balances_are_refused_as_corrupt(stored: bytes | None) -> None:
    store = bank(alice=(100, 100))
    tx = store.begin()  # written past the app (the built-in KV calls do not guard app maps)
    if stored is None:
        tx.remove(smallbank.SAVINGS, b"alice")
    else:
        tx.put(smallbank.SAVINGS, b"alice", stored)
    tx.commit()
    assert refused(store, "smallbank.balance", {"name": "alice"}).code == "CorruptAccount"


def test_two_concurrent_payments_cannot_spend_the_same_money() -> None:
    store = bank(alice=(100, 0), bob=(0, 0), carol=(0, 0))
    first, second = store.begin(), store.begin()
    for tx, payee in ((first, "bob"), (second, "carol")):
        args = msgpack.packb({"from": "alice", "to": payee, "amount": 100})
        registry.run(tx, "smallbank.send_payment", args, ALICE)
    first.commit()
    with pytest.raises(Conflict):
        second.commit()
    error = refused(store, "smallbank.send_payment", {"from": "alice", "to": "carol", "amount": 100})
    assert error.code == "InsufficientFunds"  # re-executed on the new state, it is refused
