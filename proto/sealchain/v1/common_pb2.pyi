from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TxStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TX_STATUS_UNKNOWN: _ClassVar[TxStatus]
    TX_STATUS_PENDING: _ClassVar[TxStatus]
    TX_STATUS_COMMITTED: _ClassVar[TxStatus]
    TX_STATUS_INVALID: _ClassVar[TxStatus]
TX_STATUS_UNKNOWN: TxStatus
TX_STATUS_PENDING: TxStatus
TX_STATUS_COMMITTED: TxStatus
TX_STATUS_INVALID: TxStatus

class TxId(_message.Message):
    __slots__ = ("view", "seqno")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    SEQNO_FIELD_NUMBER: _ClassVar[int]
    view: int
    seqno: int
    def __init__(self, view: _Optional[int] = ..., seqno: _Optional[int] = ...) -> None: ...
