"""Identifiers (CCF): node id = hex SHA-256 of the identity public key DER; member and user ids = hex SHA-256
of the certificate DER (the certificate's fingerprint)."""

from __future__ import annotations

import hashlib
from typing import NewType

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enclave.crypto.keys import PublicKey, public_key_der

NodeId = NewType("NodeId", str)
MemberId = NewType("MemberId", str)
UserId = NewType("UserId", str)


def node_id_of(public_key: PublicKey) -> NodeId:
    return NodeId(hashlib.sha256(public_key_der(public_key)).hexdigest())


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate DER; also the `kid` of COSE Sign1 governance requests."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def member_id_of(cert: x509.Certificate) -> MemberId:
    return MemberId(certificate_fingerprint(cert))


def user_id_of(cert: x509.Certificate) -> UserId:
    return UserId(certificate_fingerprint(cert))
