"""Encryption of the ledger secrets and service key to a joining node's identity key (DESIGN.md 4.3).

ECIES-like: an ephemeral P-384 key (from injected entropy) agrees a secret with the joiner's identity key
(ECDH); HKDF-SHA256 over it, bound to both public keys, gives a one-time AES-256-GCM key (so a fixed
all-zero nonce is safe); the responder's identity public key is the additional data.
"""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave.crypto.keys import (
    CURVE,
    MIN_ENTROPY_BYTES,
    IdentityKey,
    PublicKey,
    identity_key_from_entropy,
    public_key_der,
)
from enclave.platform.api import RandomBytes
from enclave.runtime.errors import JoinRefused

_LABEL: Final = b"sealchain join secrets v1"
_NONCE: Final = bytes(12)


def load_public_key_der(der: bytes) -> PublicKey:
    """An EC P-384 public key from DER SubjectPublicKeyInfo, or `JoinRefused`."""
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise JoinRefused(f"not a DER public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != CURVE.name:
        raise JoinRefused("the identity key is not EC P-384")
    return key


def _key(shared: bytes, recipient_der: bytes, ephemeral_der: bytes) -> AESGCM:
    info = _LABEL + len(recipient_der).to_bytes(4, "big") + recipient_der + ephemeral_der
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared))


def encrypt_to(
    recipient: PublicKey, plaintext: bytes, aad: bytes, random_bytes: RandomBytes
) -> tuple[bytes, bytes]:
    """(ephemeral public key DER, ciphertext)."""
    ephemeral = identity_key_from_entropy(random_bytes(MIN_ENTROPY_BYTES))
    ephemeral_der = public_key_der(ephemeral.public_key())
    shared = ephemeral.exchange(ec.ECDH(), recipient)
    aead = _key(shared, public_key_der(recipient), ephemeral_der)
    return ephemeral_der, aead.encrypt(_NONCE, plaintext, aad)


def decrypt_with(key: IdentityKey, ephemeral_der: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    ephemeral = load_public_key_der(ephemeral_der)
    shared = key.exchange(ec.ECDH(), ephemeral)
    aead = _key(shared, public_key_der(key.public_key()), ephemeral_der)
    try:
        return aead.decrypt(_NONCE, ciphertext, aad)
    except InvalidTag:
        raise JoinRefused("the secrets do not decrypt with this node's identity key") from None
