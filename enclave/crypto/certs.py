"""X.509 identities: the service's self-signed CA certificate and node certificates it endorses.

Carries what `ccf.receipt.check_cert_chain` needs (ccf-formats.md, "Certificates"): the service certificate
is a critical CA with keyCertSign, both carry SKI and AKI, node certificates carry a SAN. Validity times are
passed in; serial numbers are derived from the subject key and validity, so issuing is deterministic.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from enclave.crypto.keys import IdentityKey, PublicKey, public_key_der

SERVICE_COMMON_NAME = "sealchain service"
NODE_COMMON_NAME = "sealchain node"


class CertificateFormatError(ValueError):
    """Bytes that are not a PEM certificate with an EC P-384 key."""


def _serial_number(subject_key: PublicKey, not_before: datetime) -> int:
    # Positive and below 2^159 (RFC 5280 allows 20 octets); distinct per key and validity start.
    seed = public_key_der(subject_key) + not_before.isoformat().encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:20], "big") >> 1 or 1


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _subject_alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def service_certificate(
    key: IdentityKey,
    *,
    not_before: datetime,
    not_after: datetime,
    common_name: str = SERVICE_COMMON_NAME,
) -> x509.Certificate:
    """CCF: the service identity, a self-signed CA (BasicConstraints critical, keyCertSign + cRLSign)."""
    public_key = key.public_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public_key)
        .serial_number(_serial_number(public_key, not_before))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA384(), ecdsa_deterministic=True)
    )


def endorse_node_certificate(
    node_public_key: PublicKey,
    *,
    service_key: IdentityKey,
    service_cert: x509.Certificate,
    subject_alt_names: Sequence[str],
    not_before: datetime,
    not_after: datetime,
    common_name: str = NODE_COMMON_NAME,
) -> x509.Certificate:
    """CCF: a node certificate issued by the service key (CA=false, SAN with the node's IP addresses or DNS
    names, SKI, AKI pointing at the service key)."""
    if not subject_alt_names:
        raise ValueError("a node certificate needs at least one subject alternative name")
    service_ski = service_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(service_cert.subject)
        .public_key(node_public_key)
        .serial_number(_serial_number(node_public_key, not_before))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([_subject_alt_name(n) for n in subject_alt_names]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(node_public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(service_ski), critical=False
        )
        .sign(service_key, hashes.SHA384(), ecdsa_deterministic=True)
    )


def is_endorsed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s key signed `cert` (the check of `ccf.receipt.check_endorsement`)."""
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, ec.EllipticCurvePublicKey):
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_certificate_pem(pem: bytes) -> x509.Certificate:
    """Parses one PEM certificate whose key is EC P-384; anything else is a CertificateFormatError."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        # Parsed lazily: a corrupted key algorithm surfaces only here.
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateFormatError(f"not a PEM certificate: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != ec.SECP384R1().name:
        raise CertificateFormatError("certificate key is not EC P-384")
    return cert


def certificate_public_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateFormatError("certificate key is not an EC key")
    return key
