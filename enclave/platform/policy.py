"""Verifying evidence against a policy (DESIGN.md section 4, join with mutual attestation).

The policy is a plain value: the pinned vendor root per backend, the allowed measurements (governance
owns that list) and a minimum security version. Each verification also names the identity key the
presenter proved it holds, an optional freshness nonce, and the time certificates must be valid at.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from enclave.platform.api import Claims, Measurement, PlatformName
from enclave.platform.backends import REPORT_FORMATS
from enclave.platform.endorsements import attestation_key
from enclave.platform.errors import (
    MeasurementNotAllowed,
    NonceMismatch,
    ReportDataMismatch,
    SecurityVersionTooLow,
)
from enclave.platform.evidence import decode_evidence, verify_report_signature

_KEY_DIGEST_SIZE = 32
_NONCE_LABEL = b"sealchain attestation nonce v1"


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    """What evidence must show to be accepted. A backend without a pinned root is not accepted at all."""

    roots: Mapping[PlatformName, x509.Certificate]
    allowed_measurements: frozenset[Measurement]
    min_security_version: int = 0


def report_data_for(identity_public_key_der: bytes, nonce: bytes | None = None) -> bytes:
    """DESIGN.md section 4: SHA-256(identity public key DER) || SHA-256(label || nonce), or 32 zero bytes.

    The first half binds the evidence to the key the presenter proves it holds (so replayed evidence
    names someone else's key); the second half, when the verifier supplied a nonce, makes it fresh.
    """
    freshness = bytes(32) if nonce is None else hashlib.sha256(_NONCE_LABEL + nonce).digest()
    return hashlib.sha256(identity_public_key_der).digest() + freshness


def verify_evidence(
    evidence: bytes,
    policy: TrustPolicy,
    *,
    identity_public_key_der: bytes,
    nonce: bytes | None = None,
    at: datetime,
) -> Claims:
    """The claims of `evidence`, if it is well formed, endorsed by a pinned root, signed, and acceptable.

    Raises an `EvidenceRejected` subclass that names the first check that failed; `at` must be aware.
    """
    decoded = decode_evidence(evidence)
    key = attestation_key(decoded.endorsements, decoded.platform, policy.roots, at)
    verify_report_signature(key, decoded.report, decoded.signature)
    claims = REPORT_FORMATS[decoded.platform].claims(decoded.report)
    if claims.measurement not in policy.allowed_measurements:
        raise MeasurementNotAllowed(f"measurement {claims.measurement.hex()} is not allowed")
    if claims.security_version < policy.min_security_version:
        raise SecurityVersionTooLow(
            f"security version {claims.security_version} is below the minimum {policy.min_security_version}"
        )
    expected = report_data_for(identity_public_key_der, nonce)
    if not hmac.compare_digest(claims.report_data[:_KEY_DIGEST_SIZE], expected[:_KEY_DIGEST_SIZE]):
        raise ReportDataMismatch("the evidence is bound to another identity key")
    if not hmac.compare_digest(claims.report_data[_KEY_DIGEST_SIZE:], expected[_KEY_DIGEST_SIZE:]):
        raise NonceMismatch("the evidence does not carry the expected freshness nonce")
    return claims
