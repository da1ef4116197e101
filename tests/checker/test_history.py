"""Recording a history: intervals from the injected clock, outcomes, and many client threads at once."""

from __future__ import annotations

import itertools
import math
import threading

import pytest

from tests.checker.history import ClientId, History, HistoryError, Kind, Operation, Outcome
from tests.checker.linearizability import Linearizable, check


def ticking_clock() -> History:
    """A history whose clock advances by one on every reading."""
    ticks = itertools.count()
    return History(clock=lambda: float(next(ticks)))


def test_each_outcome_is_recorded_with_its_interval_in_call_order() -> None:
    history = ticking_clock()
    first = history.call(ClientId(0), Kind.WRITE, b"k", b"a")  # t=0
    second = history.call(ClientId(1), Kind.READ, b"k")  # t=1
    third = history.call(ClientId(2), Kind.WRITE, b"k", b"b")  # t=2
    fourth = history.call(ClientId(3), Kind.WRITE, b"k", b"c")  # t=3
    history.ok(second, b"a")  # t=4
    history.ok(first)  # t=5
    history.failed(third)  # t=6
    history.unknown(fourth)

    assert history.operations() == [
        Operation(ClientId(0), Kind.WRITE, b"k", b"a", 0.0, 5.0, Outcome.OK),
        Operation(ClientId(1), Kind.READ, b"k", b"a", 1.0, 4.0, Outcome.OK),
        Operation(ClientId(2), Kind.WRITE, b"k", b"b", 2.0, 6.0, Outcome.FAILED),
        Operation(ClientId(3), Kind.WRITE, b"k", b"c", 3.0, math.inf, Outcome.UNKNOWN),
    ]


def test_a_call_not_completed_yet_counts_as_unknown() -> None:
    history = ticking_clock()
    history.call(ClientId(0), Kind.WRITE, b"k", b"a")
    (operation,) = history.operations()
    assert operation.outcome is Outcome.UNKNOWN and math.isinf(operation.returned)


def test_a_call_is_completed_once() -> None:
    history = ticking_clock()
    call = history.call(ClientId(0), Kind.READ, b"k")
    history.ok(call, None)
    with pytest.raises(HistoryError, match="already completed"):
        history.unknown(call)
    assert len(history.operations()) == 1


def test_malformed_calls_are_refused_and_record_nothing() -> None:
    history = ticking_clock()
    with pytest.raises(HistoryError, match="a write has a value"):
        history.call(ClientId(0), Kind.WRITE, b"k")
    with pytest.raises(HistoryError, match="a read has none"):
        history.call(ClientId(0), Kind.READ, b"k", b"v")
    write = history.call(ClientId(0), Kind.WRITE, b"k", b"v")
    with pytest.raises(HistoryError, match="a write returns no value"):
        history.ok(write, b"v")
    assert history.operations()[0].outcome is Outcome.UNKNOWN  # still pending


def test_an_operation_cannot_return_before_its_call() -> None:
    with pytest.raises(HistoryError, match="returns before its call"):
        Operation(ClientId(0), Kind.READ, b"k", None, 2.0, 1.0, Outcome.OK)


def test_client_threads_record_concurrently_on_the_monotonic_clock() -> None:
    history = History()
    registers: dict[bytes, bytes] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        for i in range(200):
            key = b"k%d" % (i % 3)
            if i % 2:
                call = history.call(ClientId(number), Kind.WRITE, key, b"%d-%d" % (number, i))
                with lock:
                    assert call.value is not None
                    registers[key] = call.value
                history.ok(call)
            else:
                call = history.call(ClientId(number), Kind.READ, key)
                with lock:
                    value = registers.get(key)
                history.ok(call, value)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    operations = history.operations()
    assert len(operations) == 800
    assert all(op.called <= op.returned and op.outcome is Outcome.OK for op in operations)
    assert check(operations) == Linearizable(800)  # a locked dict is linearizable, and so is its record
