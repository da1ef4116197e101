"""Linearizability against a real 3-node network (issue 7): concurrent clients read and write a few keys
while the primary is killed (kill -9) and restarted, twice; the recorded history must linearize.

A write is FAILED only when the service certainly refused it before executing it; every other error
(timeouts, unreachable nodes, "no primary" after a forward, a status other than Committed after a
failover) leaves it UNKNOWN: it may have taken effect, or not.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable

import pytest

from sealchain.client import Client, ClientError, TxStatus
from tests.checker.history import ClientId, History, Kind, Operation, Outcome
from tests.checker.linearizability import Linearizable, check, the_check_catches_a_stale_read_in
from tests.checker.outcomes import REFUSED_BEFORE_EXECUTING
from tests.integration.cluster import Cluster

pytestmark = pytest.mark.slow

StartCluster = Callable[..., Cluster]

MAP = "lin"
KEYS = [b"key-%d" % i for i in range(4)]
CLIENTS = 5
CALL_TIMEOUT_SECONDS = 5.0
# OK operations between one event (a kill, a restart) and the next: about 3-4 s each here, 15-20 s in all.
OPERATIONS_PER_PHASE = 350


class RegisterClient(threading.Thread):
    """One client: reads and writes (unique values) random keys through its own failing-over `Client`,
    recording each operation in the shared history, until told to stop."""

    def __init__(self, number: int, client: Client, history: History, progress: Progress) -> None:
        super().__init__(name=f"client{number}", daemon=True)
        self.id = ClientId(number)
        self._client = client
        self._history = history
        self._progress = progress
        self._random = random.Random(number)
        self.stop_calling = threading.Event()

    def run(self) -> None:
        with self._client:
            for serial in itertools.count():
                if self.stop_calling.is_set():
                    return
                key = self._random.choice(KEYS)
                if self._random.random() < 0.5:
                    self._write(key, b"client%d-%d" % (self.id, serial))
                else:
                    self._read(key)

    def _write(self, key: bytes, value: bytes) -> None:
        call = self._history.call(self.id, Kind.WRITE, key, value)
        try:
            result = self._client.put(MAP, key, value)
        except ClientError as error:
            if error.code in REFUSED_BEFORE_EXECUTING:
                self._history.failed(call)
            else:
                self._history.unknown(call)
            return
        if result.status is TxStatus.COMMITTED:
            self._history.ok(call)
            self._progress.acknowledged()
        else:  # not Committed: unknown, conservatively (after a failover an earlier attempt may commit)
            self._history.unknown(call)

    def _read(self, key: bytes) -> None:
        call = self._history.call(self.id, Kind.READ, key)
        try:
            value = self._client.get(MAP, key).value
        except ClientError:
            self._history.unknown(call)
            return
        self._history.ok(call, value)
        self._progress.acknowledged()


class Progress:
    """How many operations completed OK, for the test to wait on (polled with a deadline, not slept)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0

    def acknowledged(self) -> None:
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    def wait_for_more(self, count: int, seconds: float = 30.0) -> None:
        with self._condition:
            target = self._count + count
            assert self._condition.wait_for(lambda: self._count >= target, timeout=seconds), (
                f"only {self._count} of {target} operations completed"
            )


def kill_primary_and_restart(cluster: Cluster, progress: Progress) -> str:
    """kill -9 the primary; operations complete under a new one; the old one restarts and follows."""
    old_primary = cluster.primary()
    cluster.kill(old_primary)
    survivors = [name for name in cluster.names if name != old_primary]
    new_primary = cluster.primary(among=survivors)
    progress.wait_for_more(OPERATIONS_PER_PHASE)
    cluster.restart(old_primary)
    cluster.wait_until(old_primary, "the old primary to follow", lambda r: r.role == "follower")
    progress.wait_for_more(OPERATIONS_PER_PHASE)
    return new_primary


def final_values_are_at_least_as_new_as_every_acknowledged_write(
    operations: list[Operation], final: dict[bytes, bytes | None]
) -> None:
    """The value each key ends with was not certainly overwritten: no acknowledged write was called after
    the final value's write returned (and a key with an acknowledged write is not absent)."""
    writes = [op for op in operations if op.kind is Kind.WRITE and op.outcome is not Outcome.FAILED]
    for key, value in final.items():
        acknowledged = [op for op in writes if op.key == key and op.outcome is Outcome.OK]
        if value is None:
            assert not acknowledged, f"{key!r} is absent after {len(acknowledged)} acknowledged writes"
            continue
        (last,) = [op for op in writes if op.key == key and op.value == value]
        newer = [op for op in acknowledged if last.returned < op.called]
        assert not newer, f"{key!r} ends with {value!r}, older than the acknowledged {newer[0]}"


def test_concurrent_reads_and_writes_linearize_while_the_primary_is_killed_twice(
    start_cluster: StartCluster,
) -> None:
    cluster = start_cluster(nodes=3)
    history, progress = History(), Progress()
    clients = [
        RegisterClient(number, cluster.client(timeout=CALL_TIMEOUT_SECONDS), history, progress)
        for number in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        progress.wait_for_more(OPERATIONS_PER_PHASE)
        first_successor = kill_primary_and_restart(cluster, progress)
        second_successor = kill_primary_and_restart(cluster, progress)
    finally:
        for client in clients:
            client.stop_calling.set()
        for client in clients:
            client.join(timeout=CALL_TIMEOUT_SECONDS * 2)

    final: dict[bytes, bytes | None] = {}
    with cluster.client() as reader:
        for key in KEYS:
            call = history.call(ClientId(CLIENTS), Kind.READ, key)
            final[key] = reader.get(MAP, key).value
            history.ok(call, final[key])
    operations = history.operations()
    outcomes = {outcome: sum(op.outcome is outcome for op in operations) for outcome in Outcome}
    counts = f"{len(operations)} operations: " + ", ".join(f"{n} {o.value}" for o, n in outcomes.items())
    started = time.perf_counter()
    result = check(operations)  # a history too big to decide (TooBig) fails here too
    print(
        f"\n{counts}; primaries after the kills: {first_successor}, {second_successor}; checked in "
        f"{time.perf_counter() - started:.3f} s"
    )
    assert isinstance(result, Linearizable), f"{counts}\n{result}"
    the_check_catches_a_stale_read_in(operations)
    final_values_are_at_least_as_new_as_every_acknowledged_write(operations, final)
    assert outcomes[Outcome.OK] >= 5 * OPERATIONS_PER_PHASE, counts
    cluster.stop()
    cluster.check_ledgers()
