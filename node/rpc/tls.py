"""TLS for the node's gRPC servers and channels (DESIGN.md section 2: gRPC's TLS ends inside the node).

The node's certificate and key come from the enclave (`TlsIdentity`) and live only in this process's
memory. The servers must listen before the enclave has created them (a node advertises its addresses
when it starts or joins), so they start with a throwaway self-signed placeholder that no client trusts,
and switch to the enclave's identity through gRPC's dynamic server credentials: the certificate fetcher
is consulted at every new TLS handshake and returns a new configuration only when something changed.

The client API requires client certificates (mTLS). Users' and members' certificates are self-signed, so
each one is its own trust root: the set of roots is the set of accepted callers, replaced when it changes.
TLS picks the first root whose name matches the caller's issuer, so an expired certificate under a user's
name would hide the user's renewed one: only certificates valid now are roots (`roots_valid_at`).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enclave.crypto.certs import certificate_pem, service_certificate
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy, private_key_pem


@dataclass(frozen=True, slots=True)
class ClientRoot:
    """A user's or member's certificate as a trust root of the client API, with its validity."""

    pem: bytes
    not_before: datetime
    not_after: datetime


def client_roots(cert_pems: Iterable[str]) -> tuple[ClientRoot, ...]:
    roots = []
    for pem in cert_pems:
        cert = x509.load_pem_x509_certificate(pem.encode())
        roots.append(ClientRoot(pem.encode(), cert.not_valid_before_utc, cert.not_valid_after_utc))
    return tuple(roots)


def roots_valid_at(roots: Iterable[ClientRoot], now: datetime) -> bytes:
    """The roots a handshake at `now` may use: the certificates valid now, the longest-lived first."""
    valid = sorted((r for r in roots if r.not_before <= now <= r.not_after), key=lambda r: r.not_after)
    return b"".join(root.pem for root in reversed(valid))


PLACEHOLDER_LIFETIME = timedelta(days=1)
PLACEHOLDER_NAME = "sealchain node (no identity yet)"


def placeholder_identity() -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a fresh self-signed certificate that nothing trusts."""
    key = identity_key_from_entropy(os.urandom(MIN_ENTROPY_BYTES))
    now = datetime.now(UTC)
    cert = service_certificate(
        key,
        not_before=now - timedelta(minutes=5),
        not_after=now + PLACEHOLDER_LIFETIME,
        common_name=PLACEHOLDER_NAME,
    )
    return certificate_pem(cert).encode(), private_key_pem(key).encode()


class ServerTls:
    """The credentials of one server port whose certificate (and accepted client roots) may change."""

    def __init__(self, *, require_client_auth: bool, client_roots: bytes | None = None) -> None:
        self._lock = threading.Lock()
        self._identity = placeholder_identity()
        # gRPC needs some root even where it verifies no client (or accepts none): the placeholder
        # certificate is harmless, since its key exists nowhere but in this object.
        self._no_client = self._identity[0]
        self._client_roots = client_roots or self._no_client
        self._require_client_auth = require_client_auth
        self._pending: grpc.ServerCertificateConfiguration | None = None
        self.has_identity = False

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._configuration(), self._fetch, require_client_authentication=self._require_client_auth
        )

    def set_identity(self, cert_pem: bytes, key_pem: bytes) -> None:
        with self._lock:
            self._identity = (cert_pem, key_pem)
            self.has_identity = True
            self._pending = self._configuration()

    def set_client_roots(self, roots_pem: bytes) -> bool:
        """Accepts exactly the clients certified by `roots_pem` (none if empty) from the next handshake
        on; whether the set changed."""
        roots_pem = roots_pem or self._no_client
        with self._lock:
            if roots_pem == self._client_roots:
                return False
            self._client_roots = roots_pem
            self._pending = self._configuration()
            return True

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        cert_pem, key_pem = self._identity
        return grpc.ssl_server_certificate_configuration(
            [(key_pem, cert_pem)], root_certificates=self._client_roots
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC at each handshake (on its own thread): a new configuration, or None to keep it."""
        with self._lock:
            pending, self._pending = self._pending, None
        return pending


def channel_credentials(
    service_cert_pem: bytes, identity: tuple[bytes, bytes] | None = None
) -> grpc.ChannelCredentials:
    """Trust nodes endorsed by the service; present `identity` (cert PEM, key PEM) for mutual TLS."""
    if identity is None:
        return grpc.ssl_channel_credentials(root_certificates=service_cert_pem)
    cert_pem, key_pem = identity
    return grpc.ssl_channel_credentials(
        root_certificates=service_cert_pem, private_key=key_pem, certificate_chain=cert_pem
    )


def caller_certificate_der(auth_context: dict[str, list[bytes]]) -> bytes | None:
    """The DER of the client certificate of an mTLS call (gRPC's `x509_pem_cert` property)."""
    pems = auth_context.get("x509_pem_cert")
    if not pems:
        return None
    return _der_of_pem(pems[0])


@functools.lru_cache(maxsize=1024)
def _der_of_pem(pem: bytes) -> bytes:
    """Every call of a client presents the same certificate: parse it once (DESIGN.md section 9)."""
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
