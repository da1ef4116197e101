"""Protobuf <-> boundary messages, in one place (STYLE.md 7: protobuf types stay at the gRPC edge).

Both directions live here: the node's servers turn requests into `enclave.runtime.messages` calls and
results into responses; the Python client (`sealchain.client`) turns responses back into the same typed
results. A refused call travels as a gRPC status plus the `sealchain-error` trailing metadata entry holding
the `ErrorCode` value, so a client tells "no primary, retry" from "not a user" without parsing prose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import grpc
from google.protobuf.message import Message

from enclave.runtime import messages as m
from proto.sealchain.v1 import client_pb2, common_pb2, governance_pb2, operator_pb2

ERROR_METADATA_KEY = "sealchain-error"

# CCF answers "no primary" and "not ready" with 503 Service Unavailable: retryable, like gRPC's UNAVAILABLE.
_STATUS_CODES: dict[m.ErrorCode, grpc.StatusCode] = {
    m.ErrorCode.NOT_A_USER: grpc.StatusCode.PERMISSION_DENIED,
    m.ErrorCode.SERVICE_NOT_OPEN: grpc.StatusCode.FAILED_PRECONDITION,
    m.ErrorCode.RESERVED_MAP: grpc.StatusCode.PERMISSION_DENIED,
    m.ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    m.ErrorCode.NO_PRIMARY: grpc.StatusCode.UNAVAILABLE,
    m.ErrorCode.NOT_READY: grpc.StatusCode.UNAVAILABLE,
    m.ErrorCode.NODE_RETIRED: grpc.StatusCode.UNAVAILABLE,
    m.ErrorCode.OUTCOME_UNKNOWN: grpc.StatusCode.UNAVAILABLE,
    m.ErrorCode.NOT_COMMITTED: grpc.StatusCode.FAILED_PRECONDITION,
    m.ErrorCode.TX_INVALID: grpc.StatusCode.ABORTED,
    m.ErrorCode.WRONG_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    m.ErrorCode.UNKNOWN_MEMBER: grpc.StatusCode.UNAUTHENTICATED,
    m.ErrorCode.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    m.ErrorCode.STALE_REQUEST: grpc.StatusCode.FAILED_PRECONDITION,
    m.ErrorCode.REPLAYED_REQUEST: grpc.StatusCode.ALREADY_EXISTS,
    m.ErrorCode.UNKNOWN_PROPOSAL: grpc.StatusCode.NOT_FOUND,
    m.ErrorCode.PROPOSAL_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    m.ErrorCode.UNSUPPORTED: grpc.StatusCode.UNIMPLEMENTED,
    m.ErrorCode.VERSION_MISMATCH: grpc.StatusCode.FAILED_PRECONDITION,
    m.ErrorCode.PROCEDURE_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
}
RETRYABLE_ERRORS = frozenset(
    {m.ErrorCode.NO_PRIMARY, m.ErrorCode.NOT_READY, m.ErrorCode.NODE_RETIRED, m.ErrorCode.OUTCOME_UNKNOWN}
)

_TX_STATUS_TO_PROTO: dict[m.TxStatus, common_pb2.TxStatus] = {
    m.TxStatus.UNKNOWN: common_pb2.TX_STATUS_UNKNOWN,
    m.TxStatus.PENDING: common_pb2.TX_STATUS_PENDING,
    m.TxStatus.COMMITTED: common_pb2.TX_STATUS_COMMITTED,
    m.TxStatus.INVALID: common_pb2.TX_STATUS_INVALID,
}
_TX_STATUS_FROM_PROTO = {value: key for key, value in _TX_STATUS_TO_PROTO.items()}
_CONSISTENCY_FROM_PROTO: dict[client_pb2.Consistency, m.Consistency] = {
    client_pb2.CONSISTENCY_LINEARIZABLE: m.Consistency.LINEARIZABLE,
    client_pb2.CONSISTENCY_LOCAL: m.Consistency.LOCAL,
}
_CONSISTENCY_TO_PROTO = {value: key for key, value in _CONSISTENCY_FROM_PROTO.items()}


class UnexpectedResult(Exception):
    """The enclave answered a call with a result of another kind: a bug on our side, never the caller's."""


# -- shared values ---------------------------------------------------------------------------------


def txid_to_proto(txid: m.TxRef) -> common_pb2.TxId:
    return common_pb2.TxId(view=txid.view, seqno=txid.seqno)


def txid_from_proto(txid: common_pb2.TxId) -> m.TxRef:
    return m.TxRef(txid.view, txid.seqno)


def tx_status_to_proto(status: m.TxStatus) -> common_pb2.TxStatus:
    return _TX_STATUS_TO_PROTO[status]


def tx_status_from_proto(status: common_pb2.TxStatus) -> m.TxStatus:
    return _TX_STATUS_FROM_PROTO.get(status, m.TxStatus.UNKNOWN)


def status_code(error: m.ErrorCode) -> grpc.StatusCode:
    return _STATUS_CODES[error]


def error_metadata(error: m.CallError) -> tuple[tuple[str, str], ...]:
    return ((ERROR_METADATA_KEY, error.code.value),)


def error_from_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> m.ErrorCode | None:
    """The `ErrorCode` a node attached to a failed call, if it attached one it knows."""
    for key, value in metadata or ():
        if key == ERROR_METADATA_KEY and isinstance(value, str):
            try:
                return m.ErrorCode(value)
            except ValueError:
                return None
    return None


# -- client API: requests --------------------------------------------------------------------------


def put_call(request: client_pb2.PutRequest) -> m.Put:
    expected = request.expected_version if request.HasField("expected_version") else None
    return m.Put(
        request.map,
        request.key,
        request.value,
        wait_for_commit=not request.no_wait,
        expected_version=expected,
    )


def delete_call(request: client_pb2.DeleteRequest) -> m.Delete:
    return m.Delete(request.map, request.key, wait_for_commit=not request.no_wait)


def get_call(request: client_pb2.GetRequest) -> m.Get:
    return m.Get(request.map, request.key, _consistency(request.consistency))


def scan_call(request: client_pb2.ScanRequest) -> m.Scan:
    end = request.end if request.HasField("end") else None
    scan = m.Scan(request.map, request.start, end, consistency=_consistency(request.consistency))
    # proto3 cannot tell 0 from absent: no limit given means the default limit.
    return replace(scan, limit=request.limit) if request.limit else scan


def tx_status_call(request: client_pb2.TxStatusRequest) -> m.GetTxStatus:
    return m.GetTxStatus(txid_from_proto(request.txid))


def receipt_call(request: client_pb2.ReceiptRequest) -> m.GetReceipt:
    return m.GetReceipt(txid_from_proto(request.txid))


def procedure_call(request: client_pb2.CallRequest) -> m.CallProcedure:
    return m.CallProcedure(request.procedure, request.args, wait_for_commit=not request.no_wait)


def put_request(call: m.Put) -> client_pb2.PutRequest:
    request = client_pb2.PutRequest(
        map=call.map_name, key=call.key, value=call.value, no_wait=not call.wait_for_commit
    )
    if call.expected_version is not None:
        request.expected_version = call.expected_version
    return request


def procedure_request(call: m.CallProcedure) -> client_pb2.CallRequest:
    return client_pb2.CallRequest(procedure=call.name, args=call.args, no_wait=not call.wait_for_commit)


def delete_request(call: m.Delete) -> client_pb2.DeleteRequest:
    return client_pb2.DeleteRequest(map=call.map_name, key=call.key, no_wait=not call.wait_for_commit)


def get_request(call: m.Get) -> client_pb2.GetRequest:
    return client_pb2.GetRequest(
        map=call.map_name, key=call.key, consistency=_CONSISTENCY_TO_PROTO[call.consistency]
    )


def scan_request(call: m.Scan) -> client_pb2.ScanRequest:
    request = client_pb2.ScanRequest(
        map=call.map_name,
        start=call.start,
        limit=call.limit,
        consistency=_CONSISTENCY_TO_PROTO[call.consistency],
    )
    if call.end is not None:
        request.end = call.end
    return request


def tx_status_request(call: m.GetTxStatus) -> client_pb2.TxStatusRequest:
    return client_pb2.TxStatusRequest(txid=txid_to_proto(call.txid))


def receipt_request(call: m.GetReceipt) -> client_pb2.ReceiptRequest:
    return client_pb2.ReceiptRequest(txid=txid_to_proto(call.txid))


def _consistency(value: client_pb2.Consistency) -> m.Consistency:
    return _CONSISTENCY_FROM_PROTO.get(value, m.Consistency.LINEARIZABLE)


# -- client API: results ---------------------------------------------------------------------------


def write_response(result: m.CallResult) -> client_pb2.WriteResponse:
    match result:
        case m.WriteResult(txid, status):
            return client_pb2.WriteResponse(txid=txid_to_proto(txid), status=tx_status_to_proto(status))
    raise UnexpectedResult(f"a write was answered with {type(result).__name__}")


def get_response(result: m.CallResult) -> client_pb2.GetResponse:
    match result:
        case m.GetResult(value, txid, version):
            return client_pb2.GetResponse(
                found=value is not None, value=value or b"", txid=txid_to_proto(txid), version=version
            )
    raise UnexpectedResult(f"a get was answered with {type(result).__name__}")


def scan_response(result: m.CallResult) -> client_pb2.ScanResponse:
    match result:
        case m.ScanResult(items, txid):
            entries = [client_pb2.KeyValue(key=item.key, value=item.value) for item in items]
            return client_pb2.ScanResponse(entries=entries, txid=txid_to_proto(txid))
    raise UnexpectedResult(f"a scan was answered with {type(result).__name__}")


def tx_status_response(result: m.CallResult) -> client_pb2.TxStatusResponse:
    match result:
        case m.TxStatusResult(txid, status):
            return client_pb2.TxStatusResponse(txid=txid_to_proto(txid), status=tx_status_to_proto(status))
    raise UnexpectedResult(f"a status query was answered with {type(result).__name__}")


def receipt_response(result: m.CallResult) -> client_pb2.ReceiptResponse:
    match result:
        case m.ReceiptResult(receipt_json):
            return client_pb2.ReceiptResponse(receipt_json=receipt_json)
    raise UnexpectedResult(f"a receipt request was answered with {type(result).__name__}")


def write_result(response: client_pb2.WriteResponse) -> m.WriteResult:
    return m.WriteResult(txid_from_proto(response.txid), tx_status_from_proto(response.status))


def get_result(response: client_pb2.GetResponse) -> m.GetResult:
    value = response.value if response.found else None
    return m.GetResult(value, txid_from_proto(response.txid), response.version)


def scan_result(response: client_pb2.ScanResponse) -> m.ScanResult:
    items = tuple(m.KeyValue(entry.key, entry.value) for entry in response.entries)
    return m.ScanResult(items, txid_from_proto(response.txid))


def tx_status_result(response: client_pb2.TxStatusResponse) -> m.TxStatusResult:
    return m.TxStatusResult(txid_from_proto(response.txid), tx_status_from_proto(response.status))


def procedure_response(result: m.CallResult) -> client_pb2.CallResponse:
    match result:
        case m.ProcedureResult(txid, status, value):
            return client_pb2.CallResponse(
                txid=txid_to_proto(txid), status=tx_status_to_proto(status), result=value
            )
    raise UnexpectedResult(f"a procedure call was answered with {type(result).__name__}")


def procedure_result(response: client_pb2.CallResponse) -> m.ProcedureResult:
    return m.ProcedureResult(
        txid_from_proto(response.txid), tx_status_from_proto(response.status), response.result
    )


def receipt_result(response: client_pb2.ReceiptResponse) -> m.ReceiptResult:
    return m.ReceiptResult(response.receipt_json)


# -- client API: streams (`Client.Stream`) -------------------------------------------------------


# Each request a streamed call may carry: the boundary call it becomes, the answer's field, and how a
# result fills that field. The same conversions as the unary RPC's, so a call means the same either way.
_STREAMED: dict[str, tuple[Callable[[Any], m.ClientCall], str, Callable[[m.CallResult], Message]]] = {
    "put": (put_call, "write", write_response),
    "delete": (delete_call, "write", write_response),
    "get": (get_call, "get", get_response),
    "scan": (scan_call, "scan", scan_response),
    "call": (procedure_call, "call", procedure_response),
    "tx_status": (tx_status_call, "tx_status", tx_status_response),
    "receipt": (receipt_call, "receipt", receipt_response),
}


def streamed_call(call: client_pb2.StreamedCall) -> tuple[m.ClientCall, str] | m.CallError:
    """The boundary call a streamed call carries, and the name of its request (for `streamed_answer`)."""
    request = call.WhichOneof("request")
    if request is None:
        return m.CallError(m.ErrorCode.INVALID_ARGUMENT, f"streamed call {call.id} carries no request")
    return _STREAMED[request][0](getattr(call, request)), request


def streamed_answer(call_id: int, request: str, result: m.CallResult) -> client_pb2.StreamedAnswer:
    """The answer to streamed call `call_id`, whose request was named `request`."""
    if isinstance(result, m.CallError):
        refused = client_pb2.CallRefused(code=result.code.value, message=result.message)
        return client_pb2.StreamedAnswer(id=call_id, refused=refused)
    _, field, respond = _STREAMED[request]
    answer = client_pb2.StreamedAnswer(id=call_id)
    getattr(answer, field).CopyFrom(respond(result))
    return answer


def streamed_request(call_id: int, call: m.ClientCall) -> client_pb2.StreamedCall:
    """`call` as streamed call `call_id` (the client's side)."""
    match call:
        case m.Put():
            return client_pb2.StreamedCall(id=call_id, put=put_request(call))
        case m.Delete():
            return client_pb2.StreamedCall(id=call_id, delete=delete_request(call))
        case m.Get():
            return client_pb2.StreamedCall(id=call_id, get=get_request(call))
        case m.Scan():
            return client_pb2.StreamedCall(id=call_id, scan=scan_request(call))
        case m.CallProcedure():
            return client_pb2.StreamedCall(id=call_id, call=procedure_request(call))
        case m.GetTxStatus():
            return client_pb2.StreamedCall(id=call_id, tx_status=tx_status_request(call))
        case m.GetReceipt():
            return client_pb2.StreamedCall(id=call_id, receipt=receipt_request(call))
    raise ValueError(f"{type(call).__name__} is not a call of the client API")


def streamed_result(answer: client_pb2.StreamedAnswer) -> m.CallResult | client_pb2.CallRefused:
    """What a streamed answer says (the client's side): its call's result, or the node's refusal as sent
    (a code this client does not know is still reported by name)."""
    match answer.WhichOneof("response"):
        case "write":
            return write_result(answer.write)
        case "get":
            return get_result(answer.get)
        case "scan":
            return scan_result(answer.scan)
        case "call":
            return procedure_result(answer.call)
        case "tx_status":
            return tx_status_result(answer.tx_status)
        case "receipt":
            return receipt_result(answer.receipt)
        case "refused":
            return answer.refused
    raise UnexpectedResult(f"streamed answer {answer.id} carries no response")


# -- governance API --------------------------------------------------------------------------------


def gov_submit_call(request: governance_pb2.SignedRequest) -> m.GovSubmit:
    return m.GovSubmit(request.cose_sign1)


def gov_read_call(request: governance_pb2.GovernanceQuery) -> m.GovRead | m.CallError:
    """The read, or the error for a table that does not exist (answered without the enclave)."""
    try:
        return m.GovRead(m.GovTable(request.table), request.key)
    except ValueError:
        tables = ", ".join(table.value for table in m.GovTable)
        return m.CallError(m.ErrorCode.INVALID_ARGUMENT, f"no governance table {request.table!r} ({tables})")


def governance_response(result: m.CallResult) -> governance_pb2.GovernanceResponse:
    match result:
        case m.GovernanceResult(txid, status, proposal_id, proposal_state, body_json):
            return governance_pb2.GovernanceResponse(
                txid=txid_to_proto(txid),
                status=tx_status_to_proto(status),
                proposal_id=proposal_id or "",
                proposal_state=proposal_state or "",
                body_json=body_json,
            )
    raise UnexpectedResult(f"a governance request was answered with {type(result).__name__}")


def governance_rows_response(result: m.CallResult) -> governance_pb2.GovernanceRows:
    match result:
        case m.GovernanceRows(rows_json, txid):
            return governance_pb2.GovernanceRows(rows_json=rows_json, txid=txid_to_proto(txid))
    raise UnexpectedResult(f"a governance read was answered with {type(result).__name__}")


def gov_submit_request(signed: bytes) -> governance_pb2.SignedRequest:
    return governance_pb2.SignedRequest(cose_sign1=signed)


def gov_read_request(call: m.GovRead) -> governance_pb2.GovernanceQuery:
    return governance_pb2.GovernanceQuery(table=call.table.value, key=call.key)


def governance_result(response: governance_pb2.GovernanceResponse) -> m.GovernanceResult:
    return m.GovernanceResult(
        txid_from_proto(response.txid),
        tx_status_from_proto(response.status),
        response.proposal_id or None,
        response.proposal_state or None,
        response.body_json,
    )


def governance_rows(response: governance_pb2.GovernanceRows) -> m.GovernanceRows:
    return m.GovernanceRows(response.rows_json, txid_from_proto(response.txid))


# -- operator API ----------------------------------------------------------------------------------


def node_status_response(report: m.NodeStatusReport) -> operator_pb2.NodeStatusResponse:
    return operator_pb2.NodeStatusResponse(
        node_id=report.node_id or "",
        role=report.role or "",
        term=report.term,
        commit=txid_to_proto(report.commit),
        status=report.state.value,
        service_status=report.service_status or "",
        last=txid_to_proto(report.last),
        primary=report.primary or "",
        voter=report.voter,
    )


def node_status_report(response: operator_pb2.NodeStatusResponse) -> m.NodeStatusReport:
    """The operator's view of a node status answer (request ids do not cross the wire: 0)."""
    return m.NodeStatusReport(
        request_id=0,
        node_id=response.node_id or None,
        state=m.LifecycleState(response.status),
        role=response.role or None,
        term=response.term,
        commit=txid_from_proto(response.commit),
        last=txid_from_proto(response.last),
        primary=response.primary or None,
        service_status=response.service_status or None,
        voter=response.voter,
    )
