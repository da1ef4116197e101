"""Service and node identities for TLS tests, valid from an hour ago for a day, derived from seeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from enclave.crypto.identity import NodeIdentity, ServiceIdentity
from enclave.crypto.keys import identity_key_from_entropy, private_key_pem

NOW = datetime.now(UTC)


def service(seed: bytes = b"s") -> ServiceIdentity:
    return ServiceIdentity.create(
        seed * 64, not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(days=1)
    )


def node(service_identity: ServiceIdentity, seed: bytes) -> NodeIdentity:
    """A node endorsed by `service_identity` for 127.0.0.1."""
    return service_identity.endorse(
        identity_key_from_entropy(seed * 64),
        ["127.0.0.1"],
        not_before=NOW - timedelta(hours=1),
        not_after=NOW + timedelta(days=1),
    )


def pem_pair(identity: NodeIdentity) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM)"""
    return identity.cert_pem.encode(), private_key_pem(identity.key).encode()
