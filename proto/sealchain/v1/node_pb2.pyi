from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("evidence", "identity_public_key", "csr", "nonce")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CSR_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    evidence: bytes
    identity_public_key: bytes
    csr: bytes
    nonce: bytes
    def __init__(self, evidence: _Optional[bytes] = ..., identity_public_key: _Optional[bytes] = ..., csr: _Optional[bytes] = ..., nonce: _Optional[bytes] = ...) -> None: ...

class JoinResponse(_message.Message):
    __slots__ = ("node_status", "service_evidence", "service_certificate", "responder_certificate", "sealed_for_joiner")
    NODE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    RESPONDER_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SEALED_FOR_JOINER_FIELD_NUMBER: _ClassVar[int]
    node_status: str
    service_evidence: bytes
    service_certificate: bytes
    responder_certificate: bytes
    sealed_for_joiner: bytes
    def __init__(self, node_status: _Optional[str] = ..., service_evidence: _Optional[bytes] = ..., service_certificate: _Optional[bytes] = ..., responder_certificate: _Optional[bytes] = ..., sealed_for_joiner: _Optional[bytes] = ...) -> None: ...

class PeerFrame(_message.Message):
    __slots__ = ("from_node_id", "channel_frame")
    FROM_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FRAME_FIELD_NUMBER: _ClassVar[int]
    from_node_id: bytes
    channel_frame: bytes
    def __init__(self, from_node_id: _Optional[bytes] = ..., channel_frame: _Optional[bytes] = ...) -> None: ...

class PeerAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
