from proto.sealchain.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignedRequest(_message.Message):
    __slots__ = ("cose_sign1",)
    COSE_SIGN1_FIELD_NUMBER: _ClassVar[int]
    cose_sign1: bytes
    def __init__(self, cose_sign1: _Optional[bytes] = ...) -> None: ...

class GovernanceResponse(_message.Message):
    __slots__ = ("txid", "status", "proposal_id", "proposal_state", "body_json")
    TXID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_STATE_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    status: _common_pb2.TxStatus
    proposal_id: str
    proposal_state: str
    body_json: str
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., status: _Optional[_Union[_common_pb2.TxStatus, str]] = ..., proposal_id: _Optional[str] = ..., proposal_state: _Optional[str] = ..., body_json: _Optional[str] = ...) -> None: ...

class GovernanceQuery(_message.Message):
    __slots__ = ("table", "key")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    table: str
    key: str
    def __init__(self, table: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class GovernanceRows(_message.Message):
    __slots__ = ("rows_json", "txid")
    ROWS_JSON_FIELD_NUMBER: _ClassVar[int]
    TXID_FIELD_NUMBER: _ClassVar[int]
    rows_json: str
    txid: _common_pb2.TxId
    def __init__(self, rows_json: _Optional[str] = ..., txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ...) -> None: ...
