"""The Python client of a sealchain service: `from sealchain import Client`.

    with Client.from_workspace(identity="user0") as client:
        written = client.put("records", b"key", b"value")      # waits until Committed
        print(written.txid, client.get("records", b"key").value)

It authenticates with the user's certificate (mTLS) and trusts only nodes endorsed by the service
certificate. Calls go to one node; when that node cannot serve (unreachable, no primary known, not yet
part of the network) the client fails over to the next node until the call's deadline. Other refusals
(not a user, service not open, bad argument) are raised at once as `ClientError`.

A write retried after a failover may have been executed twice if the first node had already forwarded
it; puts and deletes are idempotent, so the state is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc

from enclave.runtime.messages import (
    Consistency,
    Delete,
    ErrorCode,
    Get,
    GetResult,
    Put,
    ReceiptResult,
    Scan,
    ScanResult,
    TxRef,
    TxStatus,
    TxStatusResult,
    WriteResult,
)
from node.network import read_network_file
from node.rpc import convert
from node.rpc.tls import channel_credentials
from proto.sealchain.v1 import client_pb2, client_pb2_grpc
from sealchain.workspace import Role, Workspace, WorkspaceError

__all__ = [
    "Client",
    "ClientError",
    "Consistency",
    "ErrorCode",
    "GetResult",
    "ReceiptResult",
    "ScanResult",
    "TxRef",
    "TxStatus",
    "TxStatusResult",
    "WriteResult",
    "format_txid",
    "parse_txid",
]

DEFAULT_TIMEOUT_SECONDS = 30.0
_INITIAL_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 0.5
_RETRYABLE_STATUS = frozenset({grpc.StatusCode.UNAVAILABLE})
# A client call refused with WrongState: this node serves no client in its state (it is Retired from the
# service), another node may: fail over like on "no primary".
_ANOTHER_NODE_MAY_SERVE = convert.RETRYABLE_ERRORS | {ErrorCode.WRONG_STATE}
_Result = TypeVar("_Result")


class ClientError(Exception):
    """A call the service refused or could not serve. `code` is the node's `ErrorCode` value (e.g.
    "NotAUser") or, for a transport failure, the gRPC status name (e.g. "UNAVAILABLE")."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


def parse_txid(text: str) -> TxRef:
    """`view.seqno` (DESIGN.md section 6) as a `TxRef`; a ValueError for anything else."""
    view, sep, seqno = text.partition(".")
    if not sep or not view.isdigit() or not seqno.isdigit():
        raise ValueError(f"{text!r} is not a transaction id (view.seqno)")
    return TxRef(int(view), int(seqno))


def format_txid(txid: TxRef) -> str:
    return f"{txid.view}.{txid.seqno}"


class Client:
    """A user's (or member's) connection to the nodes at `addresses` ("host:port" client endpoints)."""

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        service_cert_pem: bytes,
        cert_pem: bytes,
        key_pem: bytes,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not addresses:
            raise ValueError("a client needs at least one node address")
        self.addresses = tuple(addresses)
        self.timeout = timeout
        self._credentials = channel_credentials(service_cert_pem, (cert_pem, key_pem))
        self._channels: dict[str, grpc.Channel] = {}
        self._current = 0

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
        ws = Workspace.locate(workspace)
        network = read_network_file(ws.root)
        role = Role.MEMBER if identity in ws.identity_names(Role.MEMBER) else Role.USER
        files = ws.identity_files(role, identity)
        if not files.cert.exists():
            raise WorkspaceError("unknown_identity", f"no user or member named {identity!r} in {ws.root}")
        return cls(
            [node.client_address for node in network.nodes],
            service_cert_pem=(ws.root / network.service_cert).read_bytes(),
            cert_pem=files.cert.read_bytes(),
            key_pem=files.private_key.read_bytes(),
            timeout=timeout,
        )

    # -- calls -----------------------------------------------------------------------------------

    def put(self, map_name: str, key: bytes, value: bytes, *, wait: bool = True) -> WriteResult:
        """Writes `value` at `key`; with `wait`, returns once the write is Committed (or Invalid)."""
        request = convert.put_request(Put(map_name, key, value, wait_for_commit=wait))
        return self._invoke(lambda stub: stub.Put, request, convert.write_result)

    def delete(self, map_name: str, key: bytes, *, wait: bool = True) -> WriteResult:
        request = convert.delete_request(Delete(map_name, key, wait_for_commit=wait))
        return self._invoke(lambda stub: stub.Delete, request, convert.write_result)

    def get(
        self, map_name: str, key: bytes, *, consistency: Consistency = Consistency.LINEARIZABLE
    ) -> GetResult:
        """The value at `key` (None if absent) and the TxID of the state read."""
        request = convert.get_request(Get(map_name, key, consistency))
        return self._invoke(lambda stub: stub.Get, request, convert.get_result)

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
        return self._invoke(lambda stub: stub.Scan, request, convert.scan_result)

    def status(self, txid: TxRef) -> TxStatusResult:
        """CCF's status of `txid` as this service sees it: Unknown, Pending, Committed or Invalid."""
        request = client_pb2.TxStatusRequest(txid=convert.txid_to_proto(txid))
        return self._invoke(lambda stub: stub.GetTxStatus, request, convert.tx_status_result)

    def receipt(self, txid: TxRef) -> ReceiptResult:
        """CCF's JSON receipt of a committed transaction."""
        request = client_pb2.ReceiptRequest(txid=convert.txid_to_proto(txid))
        return self._invoke(lambda stub: stub.GetReceipt, request, convert.receipt_result)

    # -- plumbing --------------------------------------------------------------------------------

    def _stub(self, address: str) -> client_pb2_grpc.ClientStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.secure_channel(address, self._credentials)
            self._channels[address] = channel
        return client_pb2_grpc.ClientStub(channel)  # type: ignore[no-untyped-call]

    def _invoke(
        self,
        method: Callable[[client_pb2_grpc.ClientStub], Callable[..., Any]],
        request: Any,
        result: Callable[[Any], _Result],
    ) -> _Result:
        deadline = time.monotonic() + self.timeout
        backoff = _INITIAL_BACKOFF_SECONDS
        while True:
            address = self.addresses[self._current]
            remaining = deadline - time.monotonic()
            try:
                return result(method(self._stub(address))(request, timeout=max(remaining, 0.001)))
            except grpc.RpcError as error:
                failure = _client_error(error, address)
            if not failure.retryable or time.monotonic() + backoff >= deadline:
                raise failure
            self._current = (self._current + 1) % len(self.addresses)
            time.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _client_error(error: grpc.RpcError, address: str) -> ClientError:
    status: grpc.StatusCode = error.code()
    details: str = error.details() or status.name
    code = convert.error_from_metadata(error.trailing_metadata())
    if code is not None:
        return ClientError(code.value, details, retryable=code in _ANOTHER_NODE_MAY_SERVE)
    return ClientError(status.name, f"{address}: {details}", retryable=status in _RETRYABLE_STATUS)
