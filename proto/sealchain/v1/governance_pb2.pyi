from proto.sealchain.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignedRequest(_message.Message):
    __slots__ = ("cose_sign1",)
    COSE_SIGN1_FIELD_NUMBER: _ClassVar[int]
    cose_sign1: bytes
    def __init__(self, cose_sign1: _Optional[bytes] = ...) -> None: ...

class GovernanceResponse(_message.Message):
    __slots__ = ("txid", "proposal_id", "proposal_state", "body_json")
    TXID_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_STATE_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    txid: _common_pb2.TxId
    proposal_id: str
    proposal_state: str
    body_json: str
    def __init__(self, txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ..., proposal_id: _Optional[str] = ..., proposal_state: _Optional[str] = ..., body_json: _Optional[str] = ...) -> None: ...

class ProposalQuery(_message.Message):
    __slots__ = ("proposal_id",)
    PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    proposal_id: str
    def __init__(self, proposal_id: _Optional[str] = ...) -> None: ...

class ProposalList(_message.Message):
    __slots__ = ("proposals_json",)
    PROPOSALS_JSON_FIELD_NUMBER: _ClassVar[int]
    proposals_json: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, proposals_json: _Optional[_Iterable[str]] = ...) -> None: ...

class TableQuery(_message.Message):
    __slots__ = ("table",)
    TABLE_FIELD_NUMBER: _ClassVar[int]
    table: str
    def __init__(self, table: _Optional[str] = ...) -> None: ...

class TableResponse(_message.Message):
    __slots__ = ("rows_json", "txid")
    ROWS_JSON_FIELD_NUMBER: _ClassVar[int]
    TXID_FIELD_NUMBER: _ClassVar[int]
    rows_json: str
    txid: _common_pb2.TxId
    def __init__(self, rows_json: _Optional[str] = ..., txid: _Optional[_Union[_common_pb2.TxId, _Mapping]] = ...) -> None: ...

class StateDigestRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StateDigestResponse(_message.Message):
    __slots__ = ("state_digest",)
    STATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    state_digest: str
    def __init__(self, state_digest: _Optional[str] = ...) -> None: ...
