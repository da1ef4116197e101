"""SmallBank's conservation of money under random sequences of operations (hypothesis), on a real KvStore.

After every step: the sum of all balances equals the money put in minus the money taken out, both
tracked from the procedures' results only (initial balances, deposits and savings deposits in; charged
checks and savings withdrawals out); no savings balance is negative; a refused operation changed nothing;
a read-only procedure wrote nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import msgpack
from hypothesis import event, given, settings
from hypothesis import strategies as st

from enclave.apps import registry, smallbank
from enclave.apps.api import ProcedureError
from enclave.kv.store import KvStore
from tests.enclave.apps.calls import ALICE, call, state

OPENED = ("alice", "bob", "carol")  # opened before the operations; dave only if an operation opens him
NAMES = (*OPENED, "dave")
amounts = st.one_of(
    st.integers(min_value=1, max_value=500),
    st.sampled_from([0, -1, smallbank.MAX_AMOUNT, smallbank.MAX_AMOUNT + 1]),
)
names = st.sampled_from(NAMES)


@dataclass(frozen=True, slots=True)
class Op:
    procedure: str
    args: dict[str, object]


ops = st.one_of(
    st.builds(
        lambda name, checking, savings: Op(
            "smallbank.create_account", {"name": name, "checking": checking, "savings": savings}
        ),
        names,
        amounts | st.just(0),
        amounts | st.just(0),
    ),
    st.builds(lambda name: Op("smallbank.balance", {"name": name}), names),
    st.builds(
        lambda name, amount: Op("smallbank.deposit_checking", {"name": name, "amount": amount}),
        names,
        amounts,
    ),
    st.builds(
        lambda name, amount, sign: Op("smallbank.transact_savings", {"name": name, "amount": sign * amount}),
        names,
        amounts,
        st.sampled_from([1, -1]),
    ),
    st.builds(
        lambda source, target: Op("smallbank.amalgamate", {"from": source, "to": target}), names, names
    ),
    st.builds(
        lambda name, amount: Op("smallbank.write_check", {"name": name, "amount": amount}), names, amounts
    ),
    st.builds(
        lambda source, target, amount: Op(
            "smallbank.send_payment", {"from": source, "to": target, "amount": amount}
        ),
        names,
        names,
        amounts,
    ),
)


def balances(store: KvStore) -> dict[str, tuple[int, int]]:
    tx = store.begin()
    checking = {key.decode(): msgpack.unpackb(raw) for key, raw in tx.scan(smallbank.CHECKING)}
    savings = {key.decode(): msgpack.unpackb(raw) for key, raw in tx.scan(smallbank.SAVINGS)}
    assert checking.keys() == savings.keys()
    return {name: (checking[name], savings[name]) for name in checking}


def money_moved(op: Op, result: object) -> tuple[int, int]:
    """(money in, money out) of a successful operation, from its arguments and result."""
    assert isinstance(result, dict)
    match op.procedure:
        case "smallbank.create_account":
            checking, savings = op.args["checking"], op.args["savings"]
            assert isinstance(checking, int) and isinstance(savings, int)
            return checking + savings, 0
        case "smallbank.deposit_checking" | "smallbank.transact_savings":
            amount = op.args["amount"]
            assert isinstance(amount, int)
            return (amount, 0) if amount > 0 else (0, -amount)
        case "smallbank.write_check":
            return 0, result["charged"]
        case _:
            return 0, 0


openings = st.tuples(*(st.tuples(st.integers(0, 300), st.integers(0, 300)) for _ in OPENED))


@settings(max_examples=200, deadline=None)
@given(openings, st.lists(ops, min_size=1, max_size=40))
def test_money_in_minus_money_out_is_the_sum_of_balances(
    initial: tuple[tuple[int, int], ...], sequence: list[Op]
) -> None:
    store = KvStore()
    opening = [
        Op("smallbank.create_account", {"name": name, "checking": checking, "savings": savings})
        for name, (checking, savings) in zip(OPENED, initial, strict=True)
    ]
    money_in = money_out = 0
    for op in [*opening, *sequence]:
        before = state(store)
        if registry.find(op.procedure).read_only:
            tx = store.begin()
            with contextlib.suppress(ProcedureError):
                registry.run(tx, op.procedure, msgpack.packb(op.args), ALICE)
            assert not tx.has_writes()
        try:
            result = call(store, op.procedure, op.args)
        except ProcedureError as refused:
            event(f"{op.procedure}: {refused.code}")
            assert state(store) == before
        else:
            event(f"{op.procedure}: ok")
            added, taken = money_moved(op, result)
            money_in, money_out = money_in + added, money_out + taken
        accounts = balances(store)
        assert sum(checking + savings for checking, savings in accounts.values()) == money_in - money_out
        assert all(savings >= 0 for _, savings in accounts.values())
