"""Checking the endorsement chain: a pinned vendor root certifies the key that signed the report.

The chain is verified by hand (not with a web PKI verifier): names and signatures link each certificate to
the next, every issuer is a CA, the last is issued by the pinned root of the evidence's own platform, and
every certificate, root included, is valid at the verification time passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

from enclave.crypto.certs import is_endorsed_by
from enclave.platform.api import PlatformName
from enclave.platform.errors import (
    CertificateNotValidAt,
    InvalidEndorsementChain,
    MalformedEvidence,
    RootOfOtherPlatform,
    UntrustedRoot,
)

# Anything the certificate library raises for a certificate that parses but is not well formed
# (bad extensions, unsupported key or signature algorithms) counts as a broken chain.
_CERTIFICATE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,  # a name attribute of an unknown string type
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
)


def attestation_key(
    endorsements: Sequence[bytes],
    platform: PlatformName,
    roots: Mapping[PlatformName, x509.Certificate],
    at: datetime,
) -> ec.EllipticCurvePublicKey:
    """The leaf's EC P-384 key, once the chain links it to `roots[platform]` and all of it is valid `at`."""
    if at.tzinfo is None:
        raise ValueError("the verification time must be timezone-aware")
    certificates = [_load(der, index) for index, der in enumerate(endorsements)]
    root = roots.get(platform)
    if root is None:
        raise UntrustedRoot(f"no vendor root is pinned for {platform}")
    # Until the chain is linked to the root, the certificates are the presenter's bytes: errors name
    # them by position, never by their (unverified) names.
    for index, (child, parent) in enumerate(pairwise(certificates)):
        if not _is_ca(parent, index + 1) or not _issued_by(child, parent):
            raise InvalidEndorsementChain(f"endorsement {index} is not issued by endorsement {index + 1}")
    top = certificates[-1]
    if not _issued_by(top, root):
        others = [name for name, other in roots.items() if name != platform and _issued_by(top, other)]
        if others:
            raise RootOfOtherPlatform(f"{platform} evidence is endorsed by the {others[0]} vendor root")
        raise UntrustedRoot(f"the endorsements do not end at the pinned {platform} vendor root")
    for certificate in [*certificates, root]:
        if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
            raise CertificateNotValidAt(
                f"{_subject(certificate)!r} is valid from {certificate.not_valid_before_utc.isoformat()} "
                f"to {certificate.not_valid_after_utc.isoformat()}, not at {at.isoformat()}"
            )
    key = _public_key(certificates[0])
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise InvalidEndorsementChain("the attestation key is not an EC P-384 key")
    return key


def _load(der: bytes, index: int) -> x509.Certificate:
    try:
        certificate = x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):
        raise MalformedEvidence(f"endorsement {index} is not an X.509 certificate") from None
    # The signature BIT STRING ends the certificate. Its unused-bits count is outside what is signed and
    # the library ignores it, so a nonzero count would be a second encoding of the same certificate.
    if not der.endswith(b"\0" + certificate.signature):
        raise MalformedEvidence(f"endorsement {index} is not canonical DER (unused bits in its signature)")
    return certificate


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        return is_endorsed_by(child, parent)
    except _CERTIFICATE_ERRORS:
        return False


def _is_ca(certificate: x509.Certificate, index: int) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    except _CERTIFICATE_ERRORS:
        raise InvalidEndorsementChain(f"endorsement {index} has malformed extensions") from None
    return constraints.ca


def _public_key(certificate: x509.Certificate) -> object:
    try:
        return certificate.public_key()
    except _CERTIFICATE_ERRORS:
        raise InvalidEndorsementChain("the attestation key cannot be read") from None


def _subject(certificate: x509.Certificate) -> str:
    try:
        return certificate.subject.rfc4514_string()
    except _CERTIFICATE_ERRORS:
        return "<unreadable subject>"
