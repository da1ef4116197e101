"""The Python client of a sealchain service: `from sealchain import Client`.

    with Client.from_workspace(identity="user0") as client:
        written = client.put("records", b"key", b"value")      # waits until Committed
        print(written.txid, client.get("records", b"key").value)

        balance = client.call("smallbank.balance", {"name": "alice"}).result   # a procedure

It authenticates with the user's certificate (mTLS) and trusts only nodes endorsed by the service
certificate. Calls go to one node; when that node cannot serve (unreachable, no primary known, not yet
part of the network) the client fails over to the next node until the call's deadline. Other refusals
(not a user, service not open, bad argument) are raised at once as `ClientError`.

Only what is safe is retried. Reads fail over freely. A write (put, delete, a procedure that writes)
moves to another node only when it certainly did not run (no connection to the node could be made, or
the node refused it before executing it); when its outcome is unknown (the connection
broke after sending, the primary did not answer) it raises `ClientError` with `retryable` False, since
running a write twice, around another client's write, would not be linearizable: ask `status(txid)` or
read the key to learn what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgpack

from enclave.runtime.messages import (
    CallProcedure,
    Consistency,
    Delete,
    ErrorCode,
    Get,
    GetReceipt,
    GetResult,
    GetTxStatus,
    ProcedureResult,
    Put,
    ReceiptResult,
    Scan,
    ScanResult,
    TxRef,
    TxStatus,
    TxStatusResult,
    WriteResult,
)
from node.rpc import convert
from proto.sealchain.v1 import client_pb2, client_pb2_grpc
from sealchain.connection import DEFAULT_TIMEOUT_SECONDS, ClientError, ServiceAccess, ServiceClient

__all__ = [
    "Client",
    "ClientError",
    "Consistency",
    "ErrorCode",
    "GetResult",
    "ProcedureOutcome",
    "ReceiptResult",
    "ScanResult",
    "TxRef",
    "TxStatus",
    "TxStatusResult",
    "WriteResult",
    "format_txid",
    "parse_txid",
]


def parse_txid(text: str) -> TxRef:
    """`view.seqno` (DESIGN.md section 6) as a `TxRef`; a ValueError for anything else."""
    view, sep, seqno = text.partition(".")
    if not sep or not view.isdigit() or not seqno.isdigit():
        raise ValueError(f"{text!r} is not a transaction id (view.seqno)")
    return TxRef(int(view), int(seqno))


def format_txid(txid: TxRef) -> str:
    return f"{txid.view}.{txid.seqno}"


@dataclass(frozen=True, slots=True)
class ProcedureOutcome:
    """A procedure's result (decoded msgpack), and its transaction: for a procedure that wrote, its TxID
    and status (like a write's); for a read-only one, the committed state it read."""

    txid: TxRef
    status: TxStatus
    result: object

    @classmethod
    def of(cls, outcome: ProcedureResult) -> ProcedureOutcome:
        result = msgpack.unpackb(outcome.result, raw=False) if outcome.result else None
        return cls(outcome.txid, outcome.status, result)


def procedure_call(procedure: str, args: dict[str, object] | None, *, wait: bool) -> CallProcedure:
    """A call of `procedure` with `args` (msgpack-packed, as the node takes them)."""
    return CallProcedure(procedure, msgpack.packb(args or {}, use_bin_type=True), wait_for_commit=wait)


class Client(ServiceClient[client_pb2_grpc.ClientStub]):
    """A user's (or member's) connection to the nodes at `addresses` ("host:port" client endpoints):
    `Client(addresses, *, service_cert_pem, cert_pem, key_pem, timeout=30.0)`."""

    _stub_type = client_pb2_grpc.ClientStub
    _another_node_may_serve = convert.RETRYABLE_ERRORS

    @classmethod
    def from_workspace(
        cls,
        workspace: Path | None = None,
        *,
        identity: str = "user0",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> Client:
        """Connects to the network recorded in the workspace's `network.json` as `identity` (a user's or
        a member's name, e.g. "user0" or "member1")."""
        return cls.from_access(ServiceAccess.from_workspace(workspace, identity), timeout=timeout)

    # -- calls -----------------------------------------------------------------------------------

    def put(
        self,
        map_name: str,
        key: bytes,
        value: bytes,
        *,
        wait: bool = True,
        expected_version: int | None = None,
    ) -> WriteResult:
        """Writes `value` at `key`; with `wait`, returns once the write is Committed (or Invalid).
        `expected_version`: only if the key's version (`get(...).version`; 0: absent) is still this,
        else `ClientError` "VersionMismatch"."""
        put = Put(map_name, key, value, wait_for_commit=wait, expected_version=expected_version)
        request = convert.put_request(put)
        return self._connection.invoke(lambda stub: stub.Put, request, convert.write_result, once=True)

    def delete(self, map_name: str, key: bytes, *, wait: bool = True) -> WriteResult:
        request = convert.delete_request(Delete(map_name, key, wait_for_commit=wait))
        return self._connection.invoke(lambda stub: stub.Delete, request, convert.write_result, once=True)

    def call(
        self,
        procedure: str,
        args: dict[str, object] | None = None,
        *,
        wait: bool = True,
        read_only: bool = False,
    ) -> ProcedureOutcome:
        """Runs an application procedure (docs/apps.md) with `args`; a refusal is `ClientError`
        "ProcedureFailed" whose message starts with the procedure's own code (e.g. "InsufficientFunds").
        `read_only`: the caller knows the procedure only reads, so it may be retried on another node."""
        request = convert.procedure_request(procedure_call(procedure, args, wait=wait))
        outcome = self._connection.invoke(
            lambda stub: stub.Call, request, convert.procedure_result, once=not read_only
        )
        return ProcedureOutcome.of(outcome)

    def wait_for_commit(self, txid: TxRef, timeout: float = 30.0) -> TxStatusResult:
        """Waits until `txid` is Committed or Invalid (or `timeout` seconds passed): its status then."""
        request = client_pb2.WaitForCommitRequest(
            txid=convert.txid_to_proto(txid), timeout_ms=max(1, int(timeout * 1000))
        )
        return self._connection.invoke(lambda stub: stub.WaitForCommit, request, convert.tx_status_result)

    def get(
        self, map_name: str, key: bytes, *, consistency: Consistency = Consistency.LINEARIZABLE
    ) -> GetResult:
        """The value at `key` (None if absent) and the TxID of the state read."""
        request = convert.get_request(Get(map_name, key, consistency))
        return self._connection.invoke(lambda stub: stub.Get, request, convert.get_result)

    def scan(
        self,
        map_name: str,
        *,
        start: bytes = b"",
        end: bytes | None = None,
        limit: int = 1000,
        consistency: Consistency = Consistency.LINEARIZABLE,
    ) -> ScanResult:
        request = convert.scan_request(Scan(map_name, start, end, limit, consistency))
        return self._connection.invoke(lambda stub: stub.Scan, request, convert.scan_result)

    def status(self, txid: TxRef) -> TxStatusResult:
        """CCF's status of `txid` as this service sees it: Unknown, Pending, Committed or Invalid."""
        request = convert.tx_status_request(GetTxStatus(txid))
        return self._connection.invoke(lambda stub: stub.GetTxStatus, request, convert.tx_status_result)

    def receipt(self, txid: TxRef) -> ReceiptResult:
        """CCF's JSON receipt of a committed transaction."""
        request = convert.receipt_request(GetReceipt(txid))
        return self._connection.invoke(lambda stub: stub.GetReceipt, request, convert.receipt_result)
