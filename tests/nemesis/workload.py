"""The nemesis's workload: concurrent clients reading and writing registers and moving SmallBank money.

Each client thread draws, from its own seeded generator, a register write (a value no other write ever
writes), a linearizable register read, or a SmallBank transfer (`send_payment` or `amalgamate`), and
a node to start it at (`WorkloadClient`). Register operations go into a shared `History` for the
linearizability checker; acknowledged writes are also kept with their TxID, to be found in the ledger.

Outcomes, as `tests/integration/test_linearizability.py` records them: OK when the service answered
(a write: Committed); FAILED only for a refusal decided from the request alone, before anything ran;
everything else (timeouts, broken connections, `OutcomeUnknown`, a write not reported Committed) is
UNKNOWN. Transfers only move money, so the total is the same whatever their outcomes.
"""

from __future__ import annotations

import collections
import itertools
import random
import threading
from dataclasses import dataclass

from enclave.runtime.messages import ErrorCode, TxRef
from sealchain.client import Client, ClientError, TxStatus
from tests.checker.history import ClientId, History, Kind
from tests.checker.outcomes import REFUSED_BEFORE_EXECUTING

# A public map: its writes are plaintext in the ledger, where the checks look for each acknowledged one.
REGISTERS = "public:nemesis"
KEYS = [b"register-%d" % i for i in range(8)]
ACCOUNTS = [f"account{i}" for i in range(6)]
OPENING_BALANCE = 1000  # in checking and in savings
WRITE_SHARE, READ_SHARE = 0.4, 0.35  # the rest are transfers


@dataclass(frozen=True, slots=True)
class AcknowledgedWrite:
    key: bytes
    value: bytes
    txid: TxRef


class Workload:
    """What every client records: the register history, acknowledged writes, transfer outcomes."""

    def __init__(self) -> None:
        self.history = History()
        self.transfers: collections.Counter[str] = collections.Counter()  # "ok", "refused", "unknown"
        self._acknowledged: list[AcknowledgedWrite] = []
        self._lock = threading.Lock()

    def acknowledge(self, write: AcknowledgedWrite) -> None:
        with self._lock:
            self._acknowledged.append(write)

    def count_transfer(self, outcome: str) -> None:
        with self._lock:
            self.transfers[outcome] += 1

    def acknowledged(self) -> list[AcknowledgedWrite]:
        with self._lock:
            return list(self._acknowledged)


def open_accounts(client: Client) -> int:
    """Creates the SmallBank accounts (on a healthy service); the money they hold in all."""
    for name in ACCOUNTS:
        client.call(
            "smallbank.create_account",
            {"name": name, "checking": OPENING_BALANCE, "savings": OPENING_BALANCE},
        )
    return 2 * OPENING_BALANCE * len(ACCOUNTS)


def total_money(client: Client) -> int:
    """The money all accounts hold, read at the primary (linearizable)."""
    total = 0
    for name in ACCOUNTS:
        balance = client.call("smallbank.balance", {"name": name}, read_only=True).result
        assert isinstance(balance, dict), f"{name}'s balance is {balance!r}"
        total += int(balance["total"])
    return total


class WorkloadClient(threading.Thread):
    """One client: operations one after another, drawn from `random.Random(seed)`, until told to stop.
    Each operation goes through one of `connections` drawn at random (each starts at its own node and
    fails over on its own)."""

    def __init__(self, number: int, seed: int, connections: list[Client], workload: Workload) -> None:
        super().__init__(name=f"client{number}", daemon=True)
        self.id = ClientId(number)
        self._random = random.Random(f"{seed}/client{number}")
        self._connections = connections
        self._client = connections[0]
        self._workload = workload
        self.stop_calling = threading.Event()

    def run(self) -> None:
        try:
            for serial in itertools.count():
                if self.stop_calling.is_set():
                    return
                self._client = self._random.choice(self._connections)
                draw = self._random.random()
                if draw < WRITE_SHARE:
                    self._write(self._random.choice(KEYS), b"client%d-%d" % (self.id, serial))
                elif draw < WRITE_SHARE + READ_SHARE:
                    self._read(self._random.choice(KEYS))
                else:
                    self._transfer()
        finally:
            for connection in self._connections:
                connection.close()

    def _write(self, key: bytes, value: bytes) -> None:
        call = self._workload.history.call(self.id, Kind.WRITE, key, value)
        try:
            result = self._client.put(REGISTERS, key, value)
        except ClientError as error:
            if error.code in REFUSED_BEFORE_EXECUTING:
                self._workload.history.failed(call)
            else:
                self._workload.history.unknown(call)
            return
        if result.status is TxStatus.COMMITTED:
            self._workload.history.ok(call)
            self._workload.acknowledge(AcknowledgedWrite(key, value, result.txid))
        else:
            self._workload.history.unknown(call)

    def _read(self, key: bytes) -> None:
        call = self._workload.history.call(self.id, Kind.READ, key)
        try:
            value = self._client.get(REGISTERS, key).value
        except ClientError:
            self._workload.history.unknown(call)
            return
        self._workload.history.ok(call, value)

    def _transfer(self) -> None:
        source, target = self._random.sample(ACCOUNTS, 2)
        try:
            if self._random.random() < 0.85:
                payment = {"from": source, "to": target, "amount": self._random.randint(1, 100)}
                self._client.call("smallbank.send_payment", payment)
            else:
                self._client.call("smallbank.amalgamate", {"from": source, "to": target})
        except ClientError as error:
            refused = error.code == ErrorCode.PROCEDURE_FAILED.value
            self._workload.count_transfer("refused" if refused else "unknown")
            return
        self._workload.count_transfer("ok")
