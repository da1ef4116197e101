"""Identity keys: EC P-384 for the service, node and member identities (CCF's choice of curve).

Key generation takes its entropy as an argument, so the enclave never reads a random source itself: the host
passes `os.urandom(64)`, a deterministic simulation passes bytes from its seeded `random.Random`.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

CURVE = ec.SECP384R1()
# The order of the P-384 group: a private scalar is in [1, n-1].
P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
)
# 64 bytes reduced modulo a 384-bit order leaves a bias below 2^-128.
MIN_ENTROPY_BYTES = 64

IdentityKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey


class KeyFormatError(ValueError):
    """Key material that is not an EC P-384 key in the expected encoding."""


def identity_key_from_entropy(entropy: bytes) -> IdentityKey:
    """An EC P-384 private key whose scalar is derived from `entropy` (at least 64 bytes)."""
    if len(entropy) < MIN_ENTROPY_BYTES:
        raise KeyFormatError(f"need at least {MIN_ENTROPY_BYTES} bytes of entropy, got {len(entropy)}")
    scalar = int.from_bytes(entropy, "big") % (P384_ORDER - 1) + 1
    return ec.derive_private_key(scalar, CURVE)


def public_key_der(key: PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo: what node ids and attestation report data are computed over."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_pem(key: PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key_pem(key: IdentityKey) -> str:
    """Unencrypted PKCS#8 PEM, for the workspace files of members and users (never for a node's key)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def load_private_key_pem(pem: bytes) -> IdentityKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise KeyFormatError(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != CURVE.name:
        raise KeyFormatError("not an EC P-384 private key")
    return key


def sign_digest(key: IdentityKey, digest: bytes) -> bytes:
    """CCF: a signature transaction signs the 32-byte Merkle root as a SHA-256 prehash (DER ECDSA).
    RFC 6979 deterministic nonces: the enclave's outputs depend only on its inputs and injected randomness."""
    return key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()), deterministic_signing=True))


def verify_digest(public_key: PublicKey, digest: bytes, signature: bytes) -> bool:
    """Whether `signature` (DER ECDSA) over the SHA-256 prehash `digest` is valid for `public_key`."""
    try:
        public_key.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True
