"""The ledger secret chain (CCF: each new ledger secret keeps the previous one encrypted under it).

On rekey, the previous ledger secret is wrapped under the new one, so whoever recovers the latest secret
(`shares.recover_latest_secret`) walks back to every older one and reads the whole ledger.

The wrapping key is derived from the new secret (HKDF-SHA256, its own label) rather than the secret itself:
the ledger secret encrypts entries under IVs derived from seqno and term, and a random nonce under the same
key could collide with one of them. Each derived key wraps exactly one previous secret.

    wrapped  1 byte version (1) || previous from_seqno (8 bytes BE) || 12-byte nonce || AES-256-GCM
             ciphertext and tag of the previous secret, the additional data binding version and from_seqno
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave.ledger.ledger_secrets import LEDGER_SECRET_SIZE, LedgerSecret
from enclave.platform.api import RandomBytes
from enclave.recovery.errors import ChainBroken, RecoveryFormatError

CHAIN_FORMAT_V1 = 1
_PREVIOUS_SECRET_LABEL = b"sealchain previous ledger secret v1"
_SEQNO_SIZE = 8
_NONCE_SIZE = 12
_TAG_SIZE = 16
_HEADER_SIZE = 1 + _SEQNO_SIZE
WRAPPED_PREVIOUS_SIZE = _HEADER_SIZE + _NONCE_SIZE + LEDGER_SECRET_SIZE + _TAG_SIZE


def _wrapping_aead(new: LedgerSecret) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PREVIOUS_SECRET_LABEL)
    return AESGCM(hkdf.derive(new.key))


def wrap_previous(
    previous: LedgerSecret, previous_from_seqno: int, new: LedgerSecret, random_bytes: RandomBytes
) -> bytes:
    """CCF's rekey: `previous` (applying from `previous_from_seqno`) encrypted under `new`."""
    if not 0 <= previous_from_seqno < 1 << (8 * _SEQNO_SIZE):
        raise RecoveryFormatError(f"a seqno is a u64, got {previous_from_seqno}")
    header = bytes((CHAIN_FORMAT_V1,)) + previous_from_seqno.to_bytes(_SEQNO_SIZE, "big")
    nonce = random_bytes(_NONCE_SIZE)
    return header + nonce + _wrapping_aead(new).encrypt(nonce, previous.key, header)


def unwrap_previous(wrapped: bytes, new: LedgerSecret) -> tuple[int, LedgerSecret]:
    """The previous secret and the seqno it applies from; `ChainBroken` if it does not decrypt under `new`,
    `RecoveryFormatError` if it is not a wrapped secret at all."""
    if len(wrapped) != WRAPPED_PREVIOUS_SIZE:
        raise RecoveryFormatError(
            f"a wrapped previous ledger secret is {WRAPPED_PREVIOUS_SIZE} bytes, got {len(wrapped)}"
        )
    if wrapped[0] != CHAIN_FORMAT_V1:
        raise RecoveryFormatError(
            f"wrapped previous secret version {wrapped[0]} is unknown; this code reads {CHAIN_FORMAT_V1}"
        )
    header = wrapped[:_HEADER_SIZE]
    nonce = wrapped[_HEADER_SIZE : _HEADER_SIZE + _NONCE_SIZE]
    try:
        key = _wrapping_aead(new).decrypt(nonce, wrapped[_HEADER_SIZE + _NONCE_SIZE :], header)
    except InvalidTag:
        raise ChainBroken(
            "the previous ledger secret does not decrypt under this one: the record was altered, or it "
            "belongs to another secret; walk the chain from the newest secret down"
        ) from None
    return int.from_bytes(header[1:], "big"), LedgerSecret(key)
