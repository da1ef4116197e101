"""What a procedure is, who calls it, and how it refuses (docs/apps.md)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from enclave.kv.transaction import Transaction


class ErrorCode(StrEnum):
    """The stable names of `ProcedureError.code` (clients match on them)."""

    UNKNOWN_PROCEDURE = "UnknownProcedure"  # no procedure has this name
    INVALID_ARGUMENTS = "InvalidArguments"  # undecodable, unknown, missing or mistyped arguments
    RESERVED_MAP = "ReservedMap"  # a map of the service (`ccf.*`) or of another app
    BAD_AMOUNT = "BadAmount"  # an amount out of its range
    BALANCE_LIMIT = "BalanceLimit"  # a balance would leave the range a msgpack int can hold
    ACCOUNT_EXISTS = "AccountExists"
    UNKNOWN_ACCOUNT = "UnknownAccount"
    INSUFFICIENT_FUNDS = "InsufficientFunds"
    CORRUPT_ACCOUNT = "CorruptAccount"  # an account's stored balances are not the app's format


class ProcedureError(Exception):
    """A procedure refused its input or the state (nothing it wrote is kept)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        # str(): an ErrorCode member becomes its plain value, so the code crosses any boundary as text.
        self.code = str(code)

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user a procedure runs for."""

    user_id: str  # hex SHA-256 of the caller's certificate DER


class Maps(Protocol):
    """What a procedure that only reads and writes keys needs of its transaction (`Transaction` is one).
    SmallBank asks for no more, so the benchmark can run the same procedures in a client against the
    keys it read from etcd (`sealchain.benchmark.etcd_smallbank`)."""

    def get(self, map_name: str, key: bytes) -> bytes | None: ...

    def put(self, map_name: str, key: bytes, value: bytes) -> None: ...


ProcedureFunction = Callable[[Transaction, Mapping[str, object], Caller], object]


@dataclass(frozen=True, slots=True)
class Procedure:
    """A named function of one transaction: `run(tx, args, caller)` returns a msgpack-able result or
    raises `ProcedureError`; the runtime commits what it wrote only when it returns."""

    name: str  # "app.procedure", e.g. "smallbank.send_payment"
    run: ProcedureFunction
    read_only: bool  # True: never writes (the runtime serves it like a linearizable read)
    doc: str  # one line for `--help` and docs
