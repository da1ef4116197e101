"""Calling procedures the way the runtime does: msgpack arguments, one transaction per call, committed
only when the procedure returns."""

from __future__ import annotations

import msgpack
import pytest

from enclave.apps import registry
from enclave.apps.api import Caller, ProcedureError
from enclave.kv.execute import execute
from enclave.kv.store import KvStore

ALICE = Caller(user_id="a1" * 32)


def call(store: KvStore, name: str, args: dict[str, object]) -> object:
    """Run `name` with `args` in a transaction of `store`, commit it, and return the decoded result.
    A ProcedureError propagates and the transaction is dropped (nothing written)."""
    raw = msgpack.packb(args)
    executed = execute(store, lambda tx: registry.run(tx, name, raw, ALICE))
    return msgpack.unpackb(executed.value)


def state(store: KvStore) -> dict[str, list[tuple[bytes, bytes]]]:
    """Every map's items, as a fresh transaction sees them."""
    tx = store.begin()
    return {name: tx.scan(name) for name in ("kv-map", "public:kv-map", *sorted(registry.APP_MAPS))}


def refused(store: KvStore, name: str, args: dict[str, object]) -> ProcedureError:
    """The ProcedureError that calling `name` raises; asserts that the call changed nothing."""
    before = state(store)
    with pytest.raises(ProcedureError) as error:
        call(store, name, args)
    assert state(store) == before
    return error.value
