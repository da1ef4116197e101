"""The peer port's wire: mutual TLS straight over TCP, carrying length-prefixed channel frames.

Node-to-node traffic is a one-way flow of opaque frames that the enclaves' channels already authenticate
and order (DESIGN.md section 5), so it needs no RPC layer: each frame is a 4-byte big-endian length and the
frame, written by the dialling node only, as CCF's nodes write theirs on raw TLS. gRPC's Python streams
cost two to three times the CPU of this per message and hand every message through two more threads
(docs/performance.md).

Both ends present certificates endorsed by the service and accept only such certificates. The sender of
a connection's frames is the node whose key its certificate holds: a frame cannot claim another sender.

Python's `ssl` reads a certificate's key only from a file. The node's key is the enclave's and must not
reach the disk, so it is handed over through an anonymous in-memory file (`memfd_create`, Linux's),
closed as soon as OpenSSL has read it.
"""

from __future__ import annotations

import os
import ssl
import struct

from cryptography import x509

from enclave.crypto.certs import certificate_public_key
from enclave.crypto.ids import node_id_of

_LENGTH = struct.Struct(">I")
# A snapshot shipped to a far-behind node travels as one frame.
MAX_FRAME_BYTES = 256 << 20
HANDSHAKE_TIMEOUT_SECONDS = 5.0


class FrameError(Exception):
    """A peer sent bytes that are not a frame this node accepts."""


def peer_tls_context(
    *, server_side: bool, cert_pem: bytes, key_pem: bytes, service_cert_pem: bytes
) -> ssl.SSLContext:
    """Mutual TLS 1.3 presenting (`cert_pem`, `key_pem`) and accepting only certificates endorsed by the
    service. No host name is checked: a dialling node checks the node id in the certificate instead
    (`node_id_of_peer`), which is stronger."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=service_cert_pem.decode())
    with os.fdopen(os.memfd_create("sealchain-peer-tls", os.MFD_CLOEXEC), "wb") as identity:
        identity.write(cert_pem + b"\n" + key_pem)
        identity.flush()
        context.load_cert_chain(f"/proc/self/fd/{identity.fileno()}")
    return context


def node_id_of_peer(ssl_object: ssl.SSLObject | None) -> str:
    """The node id (hex SHA-256 of the public key DER) in the certificate the other end presented."""
    der = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
    assert der is not None, "both ends require a certificate (CERT_REQUIRED), so a connection has one"
    return node_id_of(certificate_public_key(x509.load_der_x509_certificate(der)))


def encode_frames(frames: list[bytes]) -> bytes:
    """Frames as one write: each prefixed with its length."""
    return b"".join(_LENGTH.pack(len(frame)) + frame for frame in frames)


class FrameDecoder:
    """Frames out of a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The frames that `data` completes, in order; a `FrameError` for a frame over the size limit."""
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        offset = 0
        while len(buffer) - offset >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > MAX_FRAME_BYTES:
                raise FrameError(f"a frame of {length} bytes is over the limit of {MAX_FRAME_BYTES}")
            end = offset + _LENGTH.size + length
            if end > len(buffer):
                break
            frames.append(bytes(buffer[offset + _LENGTH.size : end]))
            offset = end
        del buffer[:offset]
        return frames
