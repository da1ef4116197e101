from proto.sealchain.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Consistency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSISTENCY_LINEARIZABLE: _ClassVar[Consistency]
    CONSISTENCY_LOCAL: _ClassVar[Consistency]
CONSISTENCY_LINEARIZABLE: Consistency
CONSISTENCY_LOCAL: Consistency

class PutRequest(_message.Message):
    __slots__ = ("map", "key", "value", "no_wait", "expected_version")
    MAP_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NO_WAIT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    map: str
    key: bytes
    value: bytes
    no_wait: bool
    expected_version: int
    def __init__(self, map: _Optional[str] = ..., key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., no_wait: _Optional[bool] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("map", "key", "no_wait")
    MAP_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    NO_WAIT_FIELD_NUMBER: _ClassVar[int]
    map: str
    key: bytes
    no_wait: bool
    def __init__(self, map: _Optional[str] = ..., key: _Optional[bytes] = ..., no_wait: _Optional[bool] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("txid", "status")
    TXID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    status: _common_pb2.TxStatus
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.TxStatus, str]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("map", "key", "consistency")
    MAP_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    map: str
    key: bytes
    consistency: Consistency
    def __init__(self, map: _Optional[str] = ..., key: _Optional[bytes] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("found", "value", "txid", "version")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TXID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value: bytes
    txid: _common_pb2.TxId
    version: int
    def __init__(self, found: _Optional[bool] = ..., value: _Optional[bytes] = ..., txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class ScanRequest(_message.Message):
    __slots__ = ("map", "start", "end", "limit", "consistency")
    MAP_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_FIELD_NUMBER: _ClassVar[int]
    map: str
    start: bytes
    end: bytes
    limit: int
    consistency: Consistency
    def __init__(self, map: _Optional[str] = ..., start: _Optional[bytes] = ..., end: _Optional[bytes] = ..., limit: _Optional[int] = ..., consistency: _Optional[_Union[Consistency, str]] = ...) -> None: ...

class KeyValue(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class ScanResponse(_message.Message):
    __slots__ = ("entries", "txid")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TXID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KeyValue]
    txid: _common_pb2.TxId
    def __init__(self, entries: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("procedure", "args", "no_wait")
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    NO_WAIT_FIELD_NUMBER: _ClassVar[int]
    procedure: str
    args: bytes
    no_wait: bool
    def __init__(self, procedure: _Optional[str] = ..., args: _Optional[bytes] = ..., no_wait: _Optional[bool] = ...) -> None: ...

class CallResponse(_message.Message):
    __slots__ = ("txid", "status", "result")
    TXID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    status: _common_pb2.TxStatus
    result: bytes
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.TxStatus, str]] = ..., result: _Optional[bytes] = ...) -> None: ...

class TxStatusRequest(_message.Message):
    __slots__ = ("txid",)
    TXID_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ...) -> None: ...

class TxStatusResponse(_message.Message):
    __slots__ = ("txid", "status")
    TXID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    status: _common_pb2.TxStatus
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.TxStatus, str]] = ...) -> None: ...

class WaitForCommitRequest(_message.Message):
    __slots__ = ("txid", "timeout_ms")
    TXID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    timeout_ms: int
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class ReceiptRequest(_message.Message):
    __slots__ = ("txid",)
    TXID_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ...) -> None: ...

class ReceiptResponse(_message.Message):
    __slots__ = ("receipt_json", "cose_receipt")
    RECEIPT_JSON_FIELD_NUMBER: _ClassVar[int]
    COSE_RECEIPT_FIELD_NUMBER: _ClassVar[int]
    receipt_json: str
    cose_receipt: bytes
    def __init__(self, receipt_json: _Optional[str] = ..., cose_receipt: _Optional[bytes] = ...) -> None: ...

class StreamedCall(_message.Message):
    __slots__ = ("id", "put", "delete", "get", "scan", "call", "tx_status", "receipt")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    SCAN_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    TX_STATUS_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    id: int
    put: PutRequest
    delete: DeleteRequest
    get: GetRequest
    scan: ScanRequest
    call: CallRequest
    tx_status: TxStatusRequest
    receipt: ReceiptRequest
    def __init__(self, id: _Optional[int] = ..., put: _Optional[_Union[PutRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteRequest, _Mapping]] = ..., get: _Optional[_Union[GetRequest, _Mapping]] = ..., scan: _Optional[_Union[ScanRequest, _Mapping]] = ..., call: _Optional[_Union[CallRequest, _Mapping]] = ..., tx_status: _Optional[_Union[TxStatusRequest, _Mapping]] = ..., receipt: _Optional[_Union[ReceiptRequest, _Mapping]] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[StreamedCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[StreamedCall, _Mapping]]] = ...) -> None: ...

class CallRefused(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StreamedAnswer(_message.Message):
    __slots__ = ("id", "write", "get", "scan", "call", "tx_status", "receipt", "refused")
    ID_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    SCAN_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    TX_STATUS_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    id: int
    write: WriteResponse
    get: GetResponse
    scan: ScanResponse
    call: CallResponse
    tx_status: TxStatusResponse
    receipt: ReceiptResponse
    refused: CallRefused
    def __init__(self, id: _Optional[int] = ..., write: _Optional[_Union[WriteResponse, _Mapping]] = ..., get: _Optional[_Union[GetResponse, _Mapping]] = ..., scan: _Optional[_Union[ScanResponse, _Mapping]] = ..., call: _Optional[_Union[CallResponse, _Mapping]] = ..., tx_status: _Optional[_Union[TxStatusResponse, _Mapping]] = ..., receipt: _Optional[_Union[ReceiptResponse, _Mapping]] = ..., refused: _Optional[_Union[CallRefused, _Mapping]] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[StreamedAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[StreamedAnswer, _Mapping]]] = ...) -> None: ...
