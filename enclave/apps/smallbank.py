"""The SmallBank benchmark (H-Store / OLTP-Bench semantics) as procedures.

Every account has a checking and a savings balance, integers in cents, kept in the private maps
`smallbank.checking` and `smallbank.savings` (key = the account name in UTF-8, value = a msgpack int).
Amounts are 1..10**12 unless said otherwise. Conservation: the sum of all balances always equals the money
put in (initial balances, deposits, savings deposits) minus the money taken out (checks, savings
withdrawals); transfers (`amalgamate`, `send_payment`) only move money. Every procedure checks everything
before it writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgpack

from enclave.apps import arguments
from enclave.apps.api import Caller, ErrorCode, Maps, Procedure, ProcedureError

CHECKING = "smallbank.checking"
SAVINGS = "smallbank.savings"
MAPS = frozenset({CHECKING, SAVINGS})

MAX_AMOUNT = 10**12
MAX_NAME_LENGTH = 64
# A balance must fit a msgpack int; 10**18 < 2**63 leaves room and is a round figure in cents.
MAX_BALANCE = 10**18
OVERDRAFT_PENALTY = 1  # SmallBank's WriteCheck: a check the account cannot cover costs one more


@dataclass(frozen=True, slots=True)
class Account:
    """An account's balances as read in this transaction."""

    checking: int
    savings: int


def _name(args: Mapping[str, object], argument: str) -> bytes:
    """An account name: text of 1..64 characters; the key is its UTF-8."""
    name = arguments.text(args, argument)
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ProcedureError(
            ErrorCode.INVALID_ARGUMENTS,
            f"argument {argument!r} must be 1..{MAX_NAME_LENGTH} characters, not {len(name)}",
        )
    try:
        return name.encode()
    except UnicodeEncodeError:
        raise ProcedureError(
            ErrorCode.INVALID_ARGUMENTS, f"argument {argument!r} is not valid text"
        ) from None


def _distinct(source: bytes, target: bytes) -> None:
    if source == target:
        raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, "'from' and 'to' must be different accounts")


def _balance(raw: bytes, key: bytes, map_name: str) -> int:
    try:
        value = msgpack.unpackb(raw)
    except (ValueError, msgpack.UnpackException):
        value = None
    if type(value) is not int:
        raise ProcedureError(ErrorCode.CORRUPT_ACCOUNT, f"account {key!r} has a malformed {map_name} balance")
    return value


def _find(tx: Maps, key: bytes) -> Account | None:
    checking, savings = tx.get(CHECKING, key), tx.get(SAVINGS, key)
    if checking is None and savings is None:
        return None
    if checking is None or savings is None:
        raise ProcedureError(ErrorCode.CORRUPT_ACCOUNT, f"account {key!r} lacks one of its balances")
    return Account(_balance(checking, key, CHECKING), _balance(savings, key, SAVINGS))


def _account(tx: Maps, key: bytes) -> Account:
    account = _find(tx, key)
    if account is None:
        raise ProcedureError(ErrorCode.UNKNOWN_ACCOUNT, f"no account {key.decode()!r}")
    return account


def _check_balance(key: bytes, balance: int) -> int:
    if not -MAX_BALANCE <= balance <= MAX_BALANCE:
        raise ProcedureError(
            ErrorCode.BALANCE_LIMIT, f"account {key.decode()!r} would leave the balance range ±{MAX_BALANCE}"
        )
    return balance


def _write(tx: Maps, map_name: str, key: bytes, balance: int) -> None:
    tx.put(map_name, key, msgpack.packb(balance))


def create_account(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    arguments.check_names(args, ("name", "checking", "savings"))
    key = _name(args, "name")
    checking = arguments.amount(args, "checking", 0, MAX_AMOUNT)
    savings = arguments.amount(args, "savings", 0, MAX_AMOUNT)
    if _find(tx, key) is not None:
        raise ProcedureError(ErrorCode.ACCOUNT_EXISTS, f"account {key.decode()!r} already exists")
    _write(tx, CHECKING, key, checking)
    _write(tx, SAVINGS, key, savings)
    return {}


def balance(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    arguments.check_names(args, ("name",))
    account = _account(tx, _name(args, "name"))
    return {
        "checking": account.checking,
        "savings": account.savings,
        "total": account.checking + account.savings,
    }


def deposit_checking(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    arguments.check_names(args, ("name", "amount"))
    key = _name(args, "name")
    deposit = arguments.amount(args, "amount", 1, MAX_AMOUNT)
    account = _account(tx, key)
    checking = _check_balance(key, account.checking + deposit)
    _write(tx, CHECKING, key, checking)
    return {"checking": checking}


def transact_savings(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    """SmallBank's TransactSavings: a deposit (amount > 0) or withdrawal (amount < 0) on savings, which
    may not go below zero."""
    arguments.check_names(args, ("name", "amount"))
    key = _name(args, "name")
    change = arguments.amount(args, "amount", -MAX_AMOUNT, MAX_AMOUNT)
    if change == 0:
        raise ProcedureError(ErrorCode.BAD_AMOUNT, "argument 'amount' must not be 0")
    account = _account(tx, key)
    savings = _check_balance(key, account.savings + change)
    if savings < 0:
        raise ProcedureError(
            ErrorCode.INSUFFICIENT_FUNDS,
            f"account {key.decode()!r} has {account.savings} in savings, cannot withdraw {-change}",
        )
    _write(tx, SAVINGS, key, savings)
    return {"savings": savings}


def amalgamate(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    """SmallBank's Amalgamate: everything `from` holds (savings and checking, which may be negative) moves
    into `to`'s checking; `from` is left with zero in both."""
    arguments.check_names(args, ("from", "to"))
    source_key, target_key = _name(args, "from"), _name(args, "to")
    _distinct(source_key, target_key)
    source, target = _account(tx, source_key), _account(tx, target_key)
    moved = source.checking + source.savings
    checking = _check_balance(target_key, target.checking + moved)
    _write(tx, CHECKING, source_key, 0)
    _write(tx, SAVINGS, source_key, 0)
    _write(tx, CHECKING, target_key, checking)
    return {"moved": moved}


def write_check(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    """SmallBank's WriteCheck: a check of `amount` is charged to checking (which may go negative); if the
    account's total cannot cover it, the charge is amount + the overdraft penalty."""
    arguments.check_names(args, ("name", "amount"))
    key = _name(args, "name")
    check = arguments.amount(args, "amount", 1, MAX_AMOUNT)
    account = _account(tx, key)
    covered = account.checking + account.savings >= check
    charged = check if covered else check + OVERDRAFT_PENALTY
    checking = _check_balance(key, account.checking - charged)
    _write(tx, CHECKING, key, checking)
    return {"charged": charged, "checking": checking}


def send_payment(tx: Maps, args: Mapping[str, object], caller: Caller) -> object:
    """SmallBank's SendPayment: `amount` from `from`'s checking, which must cover it, to `to`'s checking."""
    arguments.check_names(args, ("from", "to", "amount"))
    source_key, target_key = _name(args, "from"), _name(args, "to")
    _distinct(source_key, target_key)
    payment = arguments.amount(args, "amount", 1, MAX_AMOUNT)
    source, target = _account(tx, source_key), _account(tx, target_key)
    if source.checking < payment:
        raise ProcedureError(
            ErrorCode.INSUFFICIENT_FUNDS,
            f"account {source_key.decode()!r} has {source.checking} in checking, cannot pay {payment}",
        )
    checking = _check_balance(target_key, target.checking + payment)
    _write(tx, CHECKING, source_key, source.checking - payment)
    _write(tx, CHECKING, target_key, checking)
    return {}


PROCEDURES = (
    Procedure(
        "smallbank.create_account",
        create_account,
        read_only=False,
        doc="Open account NAME with initial CHECKING and SAVINGS balances (cents, >= 0).",
    ),
    Procedure("smallbank.balance", balance, read_only=True, doc="NAME's checking, savings and total."),
    Procedure(
        "smallbank.deposit_checking", deposit_checking, read_only=False, doc="Add AMOUNT to NAME's checking."
    ),
    Procedure(
        "smallbank.transact_savings",
        transact_savings,
        read_only=False,
        doc="Add AMOUNT (negative: withdraw) to NAME's savings, which may not go below 0.",
    ),
    Procedure(
        "smallbank.amalgamate",
        amalgamate,
        read_only=False,
        doc="Move all of FROM's savings and checking into TO's checking.",
    ),
    Procedure(
        "smallbank.write_check",
        write_check,
        read_only=False,
        doc="Charge a check of AMOUNT to NAME's checking (plus 1 if checking + savings cannot cover it).",
    ),
    Procedure(
        "smallbank.send_payment",
        send_payment,
        read_only=False,
        doc="Pay AMOUNT from FROM's checking (which must cover it) into TO's checking.",
    ),
)
