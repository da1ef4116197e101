"""A concurrent history of register operations, recorded from real clients (Herlihy & Wing's histories).

Each operation is an interval: its call time is read from a monotonic clock before the request is sent,
its return time after the answer arrived. What a client learnt decides the outcome: `OK` (it took effect,
with this result), `FAILED` (it certainly did not take effect: refused before executing) or `UNKNOWN`
(timed out, connection lost: it may take effect at any instant after its call, or never; its return time
is infinite). `History` is shared by the client threads; every method is thread-safe.

    history = History()
    call = history.call(ClientId(0), Kind.WRITE, b"k", b"v1")
    ...                                  # the request
    history.ok(call)                     # or history.ok(call, value) for a read, .failed, .unknown
    operations = history.operations()   # calls never completed are UNKNOWN
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import NewType

ClientId = NewType("ClientId", int)


class HistoryError(ValueError):
    """A malformed operation, or a call completed twice: the recorder's misuse, nothing is recorded."""


class Kind(Enum):
    WRITE = "write"
    READ = "read"


class Outcome(Enum):
    OK = "ok"
    FAILED = "failed"  # certainly never took effect
    UNKNOWN = "unknown"  # may have taken effect at any instant after the call, or never


@dataclass(frozen=True, slots=True)
class Operation:
    """`value`: the value written, or the value a read returned (None: absent; also for a read whose
    outcome is not OK). `returned` is infinite for an UNKNOWN outcome."""

    client: ClientId
    kind: Kind
    key: bytes
    value: bytes | None
    called: float
    returned: float
    outcome: Outcome

    def __post_init__(self) -> None:
        if self.returned < self.called:
            raise HistoryError(f"an operation returns before its call: {self}")
        if self.kind is Kind.WRITE and self.value is None:
            raise HistoryError("a write needs a value")
        if (self.outcome is Outcome.UNKNOWN) != math.isinf(self.returned):
            raise HistoryError("exactly the operations of unknown outcome return at infinity")

    def __str__(self) -> str:
        returned = "?" if math.isinf(self.returned) else f"{self.returned:.6f}"
        result = "" if self.outcome is Outcome.OK else f" [{self.outcome.value}]"
        return (
            f"client {self.client}: {self.kind.value}({self.key!r}) = {self.value!r} "
            f"[{self.called:.6f}, {returned}]{result}"
        )


@dataclass(frozen=True, slots=True)
class Call:
    """An operation under way: what `History.call` hands back, to be completed once."""

    number: int
    client: ClientId
    kind: Kind
    key: bytes
    value: bytes | None
    called: float


class History:
    """The operations of concurrent clients. `clock`: monotonic seconds (injected for tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, Call] = {}
        self._completed: list[Operation] = []
        self._calls = 0

    def call(self, client: ClientId, kind: Kind, key: bytes, value: bytes | None = None) -> Call:
        """Starts an operation: `value` is what a write writes (None for a read)."""
        if (kind is Kind.WRITE) != (value is not None):
            raise HistoryError("a write has a value, a read has none")
        with self._lock:
            call = Call(self._calls, client, kind, key, value, self._clock())
            self._calls += 1
            self._pending[call.number] = call
        return call

    def ok(self, call: Call, read_value: bytes | None = None) -> None:
        """The operation took effect; `read_value`: what a read returned (None: absent)."""
        if call.kind is Kind.WRITE and read_value is not None:
            raise HistoryError("a write returns no value")
        value = call.value if call.kind is Kind.WRITE else read_value
        self._complete(call, value, Outcome.OK, returned=None)

    def failed(self, call: Call) -> None:
        """The operation certainly did not take effect."""
        self._complete(call, call.value, Outcome.FAILED, returned=None)

    def unknown(self, call: Call) -> None:
        """The client cannot tell whether the operation took effect."""
        self._complete(call, call.value, Outcome.UNKNOWN, returned=math.inf)

    def operations(self) -> list[Operation]:
        """Every operation so far in call order; those not completed yet count as UNKNOWN."""
        with self._lock:
            pending = [
                _operation(call, call.value, Outcome.UNKNOWN, math.inf) for call in self._pending.values()
            ]
            return sorted([*self._completed, *pending], key=lambda operation: operation.called)

    def _complete(self, call: Call, value: bytes | None, outcome: Outcome, returned: float | None) -> None:
        with self._lock:
            if self._pending.pop(call.number, None) is None:
                raise HistoryError(f"call {call.number} was already completed (or is not from this history)")
            at = self._clock() if returned is None else returned
            self._completed.append(_operation(call, value, outcome, at))


def _operation(call: Call, value: bytes | None, outcome: Outcome, returned: float) -> Operation:
    return Operation(call.client, call.kind, call.key, value, call.called, returned, outcome)
