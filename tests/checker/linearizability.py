"""A linearizability checker for a key-value store of registers (Herlihy & Wing 1990).

The search is Wing & Gong's: linearize, one at a time, an operation that is minimal (no operation not yet
linearized returned before its call) and legal for the register's state, backtracking on a dead end;
with Lowe's memoisation (as in Porcupine): a configuration (set of linearized operations as a bitset,
register state) already explored is never explored again. Registers are independent objects, so the
history is checked one key at a time (P-compositionality, Horn & Kroening 2015).

Outcomes: a `FAILED` operation never took effect and is left out (a read of its value then reads a value
never written). An `UNKNOWN` write returns at infinity, so it never constrains another operation, and the
search may also never linearize it (it did not take effect); an `UNKNOWN` read returned nothing to check.

Written values are unique per history (the workloads guarantee it), so the register's state is the index
of the write that wrote it, and a read is legal exactly when it names the current write.

    result = check(history.operations())
    assert isinstance(result, Linearizable), result
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from tests.checker.history import Kind, Operation, Outcome

DEFAULT_STEP_BUDGET = 1_000_000
_ABSENT = -1  # the register's state before any write: a read returns None


@dataclass(frozen=True, slots=True)
class Linearizable:
    checked: int  # how many operations were checked (FAILED ones and UNKNOWN reads left out)


@dataclass(frozen=True, slots=True)
class NotLinearizable:
    """`operations`: every checked operation on `key`, in call order. `explanation` names the longest
    linearizable prefix the search found and the operations none of which could come next."""

    key: bytes
    explanation: str
    operations: tuple[Operation, ...]

    def __str__(self) -> str:
        lines = "\n".join(f"  {operation}" for operation in self.operations)
        return f"not linearizable at key {self.key!r}: {self.explanation}\noperations on that key:\n{lines}"


@dataclass(frozen=True, slots=True)
class TooBig:
    """The search for `key` used up its step budget: neither verdict is known."""

    key: bytes
    steps: int
    checked: int  # the key's operations


CheckResult = Linearizable | NotLinearizable | TooBig


class DuplicateWriteError(ValueError):
    """Two writes of one key wrote the same value: the checker relies on written values being unique."""


def check(operations: Iterable[Operation], *, step_budget: int = DEFAULT_STEP_BUDGET) -> CheckResult:
    """Linearizable if every key's operations are; otherwise the verdict of the first key (in key order)
    that is not. `step_budget`: configurations explored per key before giving up with `TooBig`."""
    by_key: dict[bytes, list[Operation]] = defaultdict(list)
    failed_writes: dict[tuple[bytes, bytes | None], Operation] = {}
    for operation in operations:
        if operation.outcome is Outcome.FAILED:
            if operation.kind is Kind.WRITE:
                failed_writes[operation.key, operation.value] = operation
        elif operation.kind is Kind.WRITE or operation.outcome is Outcome.OK:
            by_key[operation.key].append(operation)
    for key in sorted(by_key):
        verdict = _RegisterSearch(key, by_key[key], failed_writes, step_budget).run()
        if verdict is not None:
            return verdict
    return Linearizable(sum(len(checked) for checked in by_key.values()))


def stale_reads(operations: Sequence[Operation]) -> list[tuple[int, bytes | None]]:
    """(index of an OK read in `operations`, a value it cannot return) for every value of the read's key
    certainly overwritten before its call: one whose write returned before another write was called that
    completed before the read was called (absence, once any write completed). A history with one such
    read's value replaced is not linearizable: what shows that the checker is not vacuous on a history."""
    found: list[tuple[int, bytes | None]] = []
    for index, read in enumerate(operations):
        if read.kind is not Kind.READ or read.outcome is not Outcome.OK:
            continue
        writes = [op for op in operations if op.kind is Kind.WRITE and op.key == read.key]
        completed = [op for op in writes if op.outcome is Outcome.OK and op.returned < read.called]
        if not completed:
            continue
        latest_call = max(op.called for op in completed)
        stale = [None, *(old.value for old in writes if old.returned < latest_call)]
        found += [(index, value) for value in stale if value != read.value]
    return found


class _RegisterSearch:
    """Wing & Gong's search with Lowe's memoisation, for the operations of one key.

    Operations are indexed in call order, those that must be linearized (OK) first, then the UNKNOWN
    writes (which may be). A configuration is (bitset of linearized operations, index of the write the
    register holds). Reads are linearized greedily: a minimal read that is legal now stays legal if it
    goes first (moving it earlier breaks no real-time order and changes no state), so only writes branch.
    """

    def __init__(
        self,
        key: bytes,
        operations: Sequence[Operation],
        failed_writes: dict[tuple[bytes, bytes | None], Operation],
        step_budget: int,
    ) -> None:
        self.key = key
        required = sorted((op for op in operations if op.outcome is Outcome.OK), key=lambda op: op.called)
        optional = sorted((op for op in operations if op.outcome is not Outcome.OK), key=lambda op: op.called)
        self.operations = required + optional
        self.required_count = len(required)
        self.all_required = (1 << len(required)) - 1
        self.failed_writes = failed_writes
        self.step_budget = step_budget
        self.steps = 0
        self.reads_from: dict[int, int] = {}  # read's index -> index of the write it read (or _ABSENT)
        self.deepest = (-1, 0, _ABSENT)  # (required operations linearized, bitset, register state)

    def run(self) -> NotLinearizable | TooBig | None:
        """None if the key's operations are linearizable."""
        writer_of: dict[bytes | None, int] = {None: _ABSENT}
        for index, op in enumerate(self.operations):
            if op.kind is Kind.WRITE:
                if op.value in writer_of:
                    raise DuplicateWriteError(f"{op.value!r} is written twice at key {self.key!r}")
                writer_of[op.value] = index
        for index, op in enumerate(self.operations):
            if op.kind is Kind.READ:
                writer = writer_of.get(op.value)
                if writer is None:
                    return self._impossible_read(op)
                if writer != _ABSENT and self.operations[writer].called > op.returned:
                    return self._verdict(f"{op} reads the value of a write called after it returned")
                self.reads_from[index] = writer
        return self._search()

    def _impossible_read(self, read: Operation) -> NotLinearizable:
        failed = self.failed_writes.get((self.key, read.value))
        why = "no write wrote" if failed is None else f"only a failed write wrote ({failed})"
        return self._verdict(f"{read} reads a value {why}")

    def _verdict(self, explanation: str) -> NotLinearizable:
        ordered = tuple(sorted(self.operations, key=lambda op: op.called))
        return NotLinearizable(self.key, explanation, ordered)

    def _search(self) -> NotLinearizable | TooBig | None:
        memo: set[tuple[int, int]] = set()
        # The configurations being explored (depth first), each with the writes not yet tried from it.
        stack: list[tuple[int, list[int]]] = []
        configuration: tuple[int, int] | None = (0, _ABSENT)
        while configuration is not None:
            self.steps += 1
            if self.steps > self.step_budget:
                return TooBig(self.key, self.steps, len(self.operations))
            bits, next_moves = self._advance(*configuration)
            if bits & self.all_required == self.all_required:
                return None
            stack.append((bits, next_moves))
            configuration = self._next_configuration(stack, memo)
        return self._stuck()

    @staticmethod
    def _next_configuration(
        stack: list[tuple[int, list[int]]], memo: set[tuple[int, int]]
    ) -> tuple[int, int] | None:
        """The next configuration not explored yet, backtracking as far as needed (None: all explored)."""
        while stack:
            bits, moves = stack[-1]
            if not moves:
                stack.pop()
                continue
            write = moves.pop(0)
            configuration = (bits | (1 << write), write)
            if configuration not in memo:
                memo.add(configuration)
                return configuration
        return None

    def _advance(self, bits: int, state: int) -> tuple[int, list[int]]:
        """Linearizes every minimal read legal in `state` (repeatedly: each may free more), and returns
        the new bitset and the minimal writes, those that must be linearized first."""
        while True:
            window, frontier = self._minimal(bits)
            legal_reads = [
                i for i in window if self.operations[i].kind is Kind.READ and self.reads_from[i] == state
            ]
            if not legal_reads:
                break
            for read in legal_reads:
                bits |= 1 << read
        linearized = (bits & self.all_required).bit_count()
        if linearized > self.deepest[0]:
            self.deepest = (linearized, bits, state)
        writes = [i for i in window if self.operations[i].kind is Kind.WRITE]
        return bits, writes + self._unknown_writes_called_by(bits, frontier)

    def _minimal(self, bits: int) -> tuple[list[int], float]:
        """The required operations not in `bits` that are minimal, and the earliest return among those
        not linearized (an operation called after it must wait). Scanning in call order from the first
        one not linearized may stop at the first call after the earliest return seen so far: every later
        operation is called (and returns) after it too."""
        first = ((bits + 1) & ~bits).bit_length() - 1  # lowest bit not set
        scanned: list[int] = []
        frontier = math.inf
        for index in range(first, self.required_count):
            if bits >> index & 1:
                continue
            op = self.operations[index]
            if op.called > frontier:
                break
            frontier = min(frontier, op.returned)
            scanned.append(index)
        return [i for i in scanned if self.operations[i].called <= frontier], frontier

    def _unknown_writes_called_by(self, bits: int, frontier: float) -> list[int]:
        """The UNKNOWN writes not in `bits` called by `frontier`: they may be linearized next."""
        return [
            i
            for i in range(self.required_count, len(self.operations))
            if not bits >> i & 1 and self.operations[i].called <= frontier
        ]

    def _stuck(self) -> NotLinearizable:
        linearized, bits, state = self.deepest
        window, frontier = self._minimal(bits)
        optional = self._unknown_writes_called_by(bits, frontier)
        holds = "nothing" if state == _ABSENT else repr(self.operations[state].value)
        blocked = "\n".join(f"    {self.operations[i]}" for i in window + optional)
        return self._verdict(
            f"at best {linearized} of {self.required_count} completed operations linearize; then the "
            f"register holds {holds}, and no order of these minimal operations goes on:\n{blocked}"
        )


def the_check_catches_a_stale_read_in(operations: list[Operation]) -> None:
    """The same history with one read returning a value certainly overwritten by then is not linearizable:
    the history holds enough overlapping reads and writes for the check to mean something."""
    stale_reads_possible = stale_reads(operations)
    assert stale_reads_possible, "no read followed two completed writes of its key"
    index, stale = random.Random(7).choice(stale_reads_possible)
    tampered = [*operations[:index], replace(operations[index], value=stale), *operations[index + 1 :]]
    assert isinstance(check(tampered), NotLinearizable)
