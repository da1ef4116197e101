"""Members' and users' own identities: keys they generate and keep, never the service's.

CCF's convention (keygenerator.sh): an EC P-384 signing key with a self-signed certificate, and for
members who take part in recovery an RSA encryption key pair to which their recovery share is encrypted.
The id of a member or user is the hex SHA-256 of its certificate DER (DESIGN.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from enclave.crypto.ids import certificate_fingerprint

CERTIFICATE_LIFETIME = timedelta(days=365)
ENCRYPTION_KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class GeneratedIdentity:
    """PEM bytes of a fresh identity; the private parts are for 0600 files only."""

    cert_pem: bytes
    private_key_pem: bytes
    encryption_public_key_pem: bytes | None = None
    encryption_private_key_pem: bytes | None = None

    @property
    def id(self) -> str:
        return certificate_fingerprint(x509.load_pem_x509_certificate(self.cert_pem))


def generate_identity(common_name: str, *, with_encryption_key: bool) -> GeneratedIdentity:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .sign(key, hashes.SHA384())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if not with_encryption_key:
        return GeneratedIdentity(cert.public_bytes(serialization.Encoding.PEM), private_pem)
    encryption_key = rsa.generate_private_key(public_exponent=65537, key_size=ENCRYPTION_KEY_BITS)
    return GeneratedIdentity(
        cert.public_bytes(serialization.Encoding.PEM),
        private_pem,
        encryption_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        encryption_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
