"""The checker on known histories, on histories from random concurrent schedules of a sequential register
store (always linearizable), and on the same histories with one read made stale (never linearizable)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.checker.history import ClientId, Kind, Operation, Outcome
from tests.checker.linearizability import (
    DuplicateWriteError,
    Linearizable,
    NotLinearizable,
    TooBig,
    check,
    stale_reads,
)

KEY = b"k"
NO_ORDER = "no order of these minimal operations goes on"


def write(value: bytes, called: float, returned: float, *, client: int = 0, key: bytes = KEY) -> Operation:
    outcome = Outcome.UNKNOWN if math.isinf(returned) else Outcome.OK
    return Operation(ClientId(client), Kind.WRITE, key, value, called, returned, outcome)


def failed_write(value: bytes, called: float, returned: float, *, client: int = 0) -> Operation:
    return Operation(ClientId(client), Kind.WRITE, KEY, value, called, returned, Outcome.FAILED)


def read(
    value: bytes | None, called: float, returned: float, *, client: int = 1, key: bytes = KEY
) -> Operation:
    return Operation(ClientId(client), Kind.READ, key, value, called, returned, Outcome.OK)


def assert_not_linearizable(operations: list[Operation], *, mentioning: str) -> NotLinearizable:
    result = check(operations)
    assert isinstance(result, NotLinearizable), result
    assert result.key == KEY
    assert mentioning in str(result)
    return result


# -- known histories ---------------------------------------------------------------------------------


def test_a_sequential_history_is_linearizable() -> None:
    history = [read(None, 0, 1), write(b"a", 2, 3), read(b"a", 4, 5), write(b"b", 6, 7), read(b"b", 8, 9)]
    assert check(history) == Linearizable(5)


def test_overlapping_writes_may_be_read_in_either_order() -> None:
    a, b = write(b"a", 0, 10, client=0), write(b"b", 1, 11, client=1)
    assert isinstance(check([a, b, read(b"a", 12, 13), read(b"a", 14, 15, client=2)]), Linearizable)
    assert isinstance(check([a, b, read(b"b", 12, 13)]), Linearizable)
    # a read overlapping both writes may see the first while a later one sees the second
    assert isinstance(check([a, b, read(b"a", 2, 5, client=2), read(b"b", 12, 13)]), Linearizable)


def test_two_reads_after_both_writes_cannot_disagree() -> None:
    a, b = write(b"a", 0, 10, client=0), write(b"b", 1, 11, client=1)
    assert_not_linearizable([a, b, read(b"a", 12, 13), read(b"b", 14, 15)], mentioning=NO_ORDER)


def test_a_stale_read_after_a_completed_write_is_not_linearizable() -> None:
    history = [write(b"a", 0, 1), write(b"b", 2, 3), read(b"a", 4, 5)]
    result = assert_not_linearizable(history, mentioning="b'a'")
    assert result.operations == tuple(history)


def test_reading_absent_after_a_completed_write_is_not_linearizable() -> None:
    assert_not_linearizable([write(b"a", 0, 1), read(None, 2, 3)], mentioning="register holds b'a'")


def test_a_read_of_a_value_never_written_is_not_linearizable() -> None:
    assert_not_linearizable([write(b"a", 0, 1), read(b"zzz", 2, 3)], mentioning="no write wrote")


def test_a_read_cannot_see_a_write_called_after_it_returned() -> None:
    history = [read(b"a", 0, 1), write(b"a", 2, 3)]
    assert_not_linearizable(history, mentioning="called after it returned")


def test_an_unknown_write_may_be_observed_or_not() -> None:
    lost = write(b"a", 0, math.inf)
    assert isinstance(check([lost, read(b"a", 5, 6)]), Linearizable)
    assert isinstance(check([lost, read(None, 5, 6)]), Linearizable)
    assert isinstance(check([lost, read(None, 5, 6), read(b"a", 7, 8)]), Linearizable)


def test_an_unknown_write_once_observed_cannot_be_unseen() -> None:
    lost = write(b"a", 0, math.inf)
    assert_not_linearizable([lost, read(b"a", 5, 6), read(None, 7, 8)], mentioning=NO_ORDER)


def test_an_unknown_write_takes_effect_only_after_its_call() -> None:
    history = [read(b"a", 0, 1), write(b"a", 2, math.inf)]
    assert_not_linearizable(history, mentioning="called after it returned")


def test_a_failed_write_never_took_effect() -> None:
    history = [failed_write(b"a", 0, 1), read(b"a", 2, 3)]
    assert_not_linearizable(history, mentioning="only a failed write wrote")
    assert isinstance(check([failed_write(b"a", 0, 1), read(None, 2, 3)]), Linearizable)


def test_unknown_reads_are_not_checked() -> None:
    lost_read = Operation(ClientId(1), Kind.READ, KEY, None, 2, math.inf, Outcome.UNKNOWN)
    assert check([write(b"a", 0, 1), lost_read]) == Linearizable(1)


def test_keys_are_independent_registers() -> None:
    history = [write(b"a", 0, 1, key=b"x"), write(b"b", 0, 1, key=b"y"), read(b"a", 2, 3, key=b"x")]
    assert isinstance(check(history), Linearizable)
    result = check([*history, read(b"a", 2, 3, key=b"y")])
    assert isinstance(result, NotLinearizable) and result.key == b"y"


def test_a_value_written_twice_breaks_the_workload_contract() -> None:
    with pytest.raises(DuplicateWriteError):
        check([write(b"a", 0, 1), write(b"a", 2, 3)])


def test_a_pathological_history_reports_its_budget_instead_of_hanging() -> None:
    # 20 concurrent writes, then reads that no order of them explains: only exhausting the orders shows it
    writes = [write(b"%d" % i, 0, 100, client=i) for i in range(20)]
    history = [*writes, read(b"0", 200, 201), read(b"1", 202, 203)]
    result = check(history, step_budget=5_000)
    assert isinstance(result, TooBig)
    assert result.key == KEY and result.steps > 5_000 and result.checked == 22


# -- random concurrent schedules of a sequential store ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scheduled:
    """An operation of a schedule: `effect` is the instant it takes effect, inside [called, returned]."""

    operation: Operation
    effect: float


@st.composite
def schedules(draw: st.DrawFn) -> list[Operation]:
    """Clients each issue operations one after another; each takes effect at a random instant inside its
    interval, in a sequential store. Some writes are lost (UNKNOWN: take effect or not) or refused."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    clients = draw(st.integers(1, 5))
    keys = [b"k%d" % i for i in range(draw(st.integers(1, 3)))]
    planned: list[Scheduled] = []
    serial = 0
    for client in range(clients):
        now = rng.uniform(0, 5)
        for _ in range(draw(st.integers(1, 8))):
            called = now + rng.uniform(0, 2)
            returned = called + rng.uniform(0.01, 6)
            effect = rng.uniform(called, returned)
            kind = rng.choice([Kind.READ, Kind.WRITE])
            outcome = rng.choices([Outcome.OK, Outcome.UNKNOWN, Outcome.FAILED], weights=[10, 1, 1])[0]
            if outcome is Outcome.UNKNOWN:
                returned = math.inf
            value = None if kind is Kind.READ else b"v%d" % serial
            serial += 1
            operation = Operation(ClientId(client), kind, rng.choice(keys), value, called, returned, outcome)
            planned.append(Scheduled(operation, effect))
            if outcome is Outcome.UNKNOWN:
                break  # a client that lost its answer stops: its next call could not be ordered after it
            now = returned
    store: dict[bytes, bytes] = {}
    history: list[Operation] = []
    for scheduled in sorted(planned, key=lambda s: s.effect):
        operation = scheduled.operation
        takes_effect = operation.outcome is Outcome.OK or (
            operation.outcome is Outcome.UNKNOWN and rng.random() < 0.5
        )
        if operation.kind is Kind.WRITE and takes_effect:
            assert operation.value is not None
            store[operation.key] = operation.value
        if operation.kind is Kind.READ and operation.outcome is Outcome.OK:
            operation = replace(operation, value=store.get(operation.key))
        history.append(operation)
    return history


@given(schedules())
def test_histories_of_a_sequential_store_are_linearizable(history: list[Operation]) -> None:
    assert isinstance(check(history), Linearizable)


@given(schedules(), st.randoms(use_true_random=False))
def test_a_read_of_an_overwritten_value_is_caught(history: list[Operation], rng: random.Random) -> None:
    reads = stale_reads(history)
    assume(reads)
    index, stale = rng.choice(reads)
    history[index] = replace(history[index], value=stale)
    result = check(history)
    assert isinstance(result, NotLinearizable), history
    assert result.key == history[index].key
