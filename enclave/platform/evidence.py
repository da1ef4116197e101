"""Evidence: the common envelope around a backend's signed report (DESIGN.md section 6).

Layout, version 1 (big-endian, exactly one encoding; `decode_evidence` rejects anything else):

    magic "SCEV" | version u16 | platform name (u8 length, ASCII) | report (u32 length)
    | signature (96 bytes: ECDSA P-384 r || s over the report) | endorsement count u8
    | each endorsement (u32 length, X.509 DER), leaf first, up to but excluding the pinned root

The report is the backend's own layout (sgx_sim.py, vbs_sim.py) and carries the measurement, security
version and report data; it is what the attestation key signs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from enclave.platform.api import PlatformName
from enclave.platform.errors import (
    InvalidEvidenceSignature,
    MalformedEvidence,
    UnknownPlatform,
    UnsupportedEvidenceVersion,
)
from enclave.platform.wire import StrictReader, sized

EVIDENCE_MAGIC = b"SCEV"
EVIDENCE_VERSION = 1
# P-384 scalars are 48 bytes; a fixed-width r || s (as SGX quotes carry) has no encoding choices.
SCALAR_SIZE = 48
SIGNATURE_SIZE = 2 * SCALAR_SIZE
MAX_ENDORSEMENTS = 4


@dataclass(frozen=True, slots=True)
class Evidence:
    """One platform's signed report and the certificates that endorse its signing key."""

    platform: PlatformName
    report: bytes
    signature: bytes
    endorsements: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if len(self.signature) != SIGNATURE_SIZE:
            raise ValueError(f"signature must be {SIGNATURE_SIZE} bytes, not {len(self.signature)}")
        if not 1 <= len(self.endorsements) <= MAX_ENDORSEMENTS:
            raise ValueError(f"1 to {MAX_ENDORSEMENTS} endorsements, not {len(self.endorsements)}")


def encode_evidence(evidence: Evidence) -> bytes:
    parts = [
        EVIDENCE_MAGIC,
        EVIDENCE_VERSION.to_bytes(2, "big"),
        sized(evidence.platform.value.encode("ascii"), 1),
        sized(evidence.report, 4),
        evidence.signature,
        len(evidence.endorsements).to_bytes(1, "big"),
        *(sized(certificate, 4) for certificate in evidence.endorsements),
    ]
    return b"".join(parts)


def decode_evidence(data: bytes) -> Evidence:
    """The strict inverse of `encode_evidence`: any other bytes raise an `EvidenceRejected` subclass."""
    reader = StrictReader(data, MalformedEvidence)
    if reader.take(len(EVIDENCE_MAGIC), "magic") != EVIDENCE_MAGIC:
        raise MalformedEvidence("not sealchain evidence (bad magic)")
    version = reader.uint(2, "version")
    if version != EVIDENCE_VERSION:
        raise UnsupportedEvidenceVersion(f"evidence version {version}, not {EVIDENCE_VERSION}")
    name = reader.sized(1, "platform name")
    try:
        platform = PlatformName(name.decode("ascii"))
    except ValueError:
        raise UnknownPlatform(f"unknown platform {name!r}") from None
    report = reader.sized(4, "report")
    signature = reader.take(SIGNATURE_SIZE, "signature")
    count = reader.uint(1, "endorsement count")
    if not 1 <= count <= MAX_ENDORSEMENTS:
        raise MalformedEvidence(f"1 to {MAX_ENDORSEMENTS} endorsements expected, not {count}")
    endorsements = tuple(reader.sized(4, f"endorsement {index}") for index in range(count))
    reader.finish()
    return Evidence(platform, report, signature, endorsements)


def sign_report(key: ec.EllipticCurvePrivateKey, report: bytes) -> bytes:
    """ECDSA P-384 with SHA-384 over the report, as fixed-width r || s.

    Deterministic nonces (RFC 6979): signing reads no randomness, so the enclave needs none to attest.
    """
    r, s = decode_dss_signature(key.sign(report, ec.ECDSA(hashes.SHA384(), deterministic_signing=True)))
    return r.to_bytes(SCALAR_SIZE, "big") + s.to_bytes(SCALAR_SIZE, "big")


def verify_report_signature(key: ec.EllipticCurvePublicKey, report: bytes, signature: bytes) -> None:
    r = int.from_bytes(signature[:SCALAR_SIZE], "big")
    s = int.from_bytes(signature[SCALAR_SIZE:], "big")
    try:
        key.verify(encode_dss_signature(r, s), report, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise InvalidEvidenceSignature("report signature invalid for the attestation key") from None
