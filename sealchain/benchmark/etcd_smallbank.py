"""SmallBank on etcd, run as an etcd application runs a transaction: read, decide, write if nothing changed.

etcd has no stored procedures, so the client runs sealchain's own SmallBank procedures
(`enclave.apps.smallbank`: the same code, so both systems apply the same rules and refuse the same
requests) against a copy of the accounts they name:
1. one Txn reads both balances of every account the request names (linearizable, at one revision);
2. the procedure runs on that copy and records what it writes;
3. one Txn writes that, if no key read has changed since (etcd's optimistic concurrency, as its
   clientv3 STM does); if one has, the same Txn reads them all again and step 2 runs on the new values.
A read-only procedure (`balance`) is answered after step 1. So a SmallBank request costs etcd two round
trips, where sealchain executes it on the primary in one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from enclave.apps import smallbank
from enclave.apps.api import Caller, ErrorCode, Maps, ProcedureError
from proto.etcd.etcdserverpb import kv_pb2

# Contention on 500 accounts at 256 clients stays far below this; reaching it means something is wrong.
MAX_ATTEMPTS = 100
ACCOUNT_ARGUMENTS = ("name", "from", "to")
_CALLER = Caller(user_id="etcd-benchmark")
_PROCEDURES: dict[str, Callable[[Maps, Mapping[str, object], Caller], object]] = {
    "smallbank.create_account": smallbank.create_account,
    "smallbank.balance": smallbank.balance,
    "smallbank.deposit_checking": smallbank.deposit_checking,
    "smallbank.transact_savings": smallbank.transact_savings,
    "smallbank.amalgamate": smallbank.amalgamate,
    "smallbank.write_check": smallbank.write_check,
    "smallbank.send_payment": smallbank.send_payment,
}

Txn = Callable[[kv_pb2.TxnRequest], Awaitable[kv_pb2.TxnResponse]]


class TooManyConflicts(Exception):
    """Other clients changed the accounts a request reads at every one of its `MAX_ATTEMPTS` attempts."""


def _etcd_key(map_name: str, key: bytes) -> bytes:
    return map_name.encode() + b"/" + key


class _Copy:
    """The balances read at one revision (`Maps` for the procedure) and what the procedure wrote."""

    def __init__(self, keys: list[tuple[str, bytes]], read: kv_pb2.TxnResponse) -> None:
        self.values: dict[tuple[str, bytes], bytes | None] = {}
        self.revisions: dict[tuple[str, bytes], int] = {}
        for key, response in zip(keys, read.responses, strict=True):
            kvs = response.response_range.kvs
            self.values[key] = kvs[0].value if kvs else None
            self.revisions[key] = kvs[0].mod_revision if kvs else 0  # etcd compares a missing key as 0
        self.writes: dict[tuple[str, bytes], bytes] = {}

    def get(self, map_name: str, key: bytes) -> bytes | None:
        written = self.writes.get((map_name, key))
        return written if written is not None else self.values[(map_name, key)]

    def put(self, map_name: str, key: bytes, value: bytes) -> None:
        self.writes[(map_name, key)] = value


def _keys_named(args: Mapping[str, object]) -> list[tuple[str, bytes]]:
    """Both balances of every account the arguments name (a malformed name is the procedure's to refuse)."""
    keys: list[tuple[str, bytes]] = []
    for argument in ACCOUNT_ARGUMENTS:
        name = args.get(argument)
        if isinstance(name, str):
            keys += [
                (map_name, name.encode(errors="replace"))
                for map_name in (smallbank.CHECKING, smallbank.SAVINGS)
            ]
    return keys


def _reads(keys: list[tuple[str, bytes]]) -> list[kv_pb2.RequestOp]:
    return [kv_pb2.RequestOp(request_range=kv_pb2.RangeRequest(key=_etcd_key(*key))) for key in keys]


async def run_procedure(txn: Txn, procedure: str, args: Mapping[str, object]) -> object:
    """Runs SmallBank's `procedure` on etcd; its result, or the procedure's `ProcedureError`."""
    function = _PROCEDURES.get(procedure)
    if function is None:
        raise ProcedureError(ErrorCode.UNKNOWN_PROCEDURE, f"etcd's SmallBank has no procedure {procedure!r}")
    keys = _keys_named(args)
    read = await txn(kv_pb2.TxnRequest(success=_reads(keys)))
    for _ in range(MAX_ATTEMPTS):
        copy = _Copy(keys, read)
        result = function(copy, args, _CALLER)
        if not copy.writes:
            return result
        unchanged = [
            kv_pb2.Compare(
                result=kv_pb2.Compare.EQUAL,
                target=kv_pb2.Compare.MOD,
                key=_etcd_key(*key),
                mod_revision=revision,
            )
            for key, revision in copy.revisions.items()
        ]
        writes = [
            kv_pb2.RequestOp(request_put=kv_pb2.PutRequest(key=_etcd_key(*key), value=value))
            for key, value in copy.writes.items()
        ]
        outcome = await txn(kv_pb2.TxnRequest(compare=unchanged, success=writes, failure=_reads(keys)))
        if outcome.succeeded:
            return result
        read = outcome  # the failure branch read every key again
    raise TooManyConflicts(f"{procedure}: the accounts changed at each of {MAX_ATTEMPTS} attempts")
