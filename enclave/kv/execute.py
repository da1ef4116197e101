"""Run a transaction function to completion, re-executing it when optimistic concurrency says its
reads went stale (CCF re-executes a conflicting transaction rather than failing the request)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from enclave.kv.store import KvStore
from enclave.kv.transaction import Conflict, Transaction, TxResult

T = TypeVar("T")


class TooManyConflicts(Exception):
    """The transaction conflicted on every one of its attempts; nothing was written."""


@dataclass(frozen=True, slots=True)
class Executed(Generic[T]):
    """What the function returned on the attempt that committed, and how that commit went."""

    value: T
    result: TxResult
    attempts: int


def execute(store: KvStore, fn: Callable[[Transaction], T], max_attempts: int = 10) -> Executed[T]:
    """Begin a transaction, run `fn` on it and commit; on Conflict start again from a fresh snapshot,
    at most `max_attempts` times. Any other exception from `fn` leaves the store unchanged and propagates."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
    for attempt in range(1, max_attempts + 1):
        tx = store.begin()
        try:
            value = fn(tx)
            result = tx.commit()
        except Conflict:
            continue
        return Executed(value, result, attempt)
    raise TooManyConflicts(f"transaction conflicted {max_attempts} times")
