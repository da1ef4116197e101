from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    def __init__(self, body: _Optional[bytes] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: bytes
    def __init__(self, body: _Optional[bytes] = ...) -> None: ...

class PeerFrame(_message.Message):
    __slots__ = ("from_node_id", "channel_frames")
    FROM_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FRAMES_FIELD_NUMBER: _ClassVar[int]
    from_node_id: str
    channel_frames: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, from_node_id: _Optional[str] = ..., channel_frames: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PeerAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
