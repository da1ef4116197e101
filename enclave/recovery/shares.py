"""Recovery shares (CCF: the ledger secret wrapping key, split among the recovery members).

A fresh 32-byte wrapping key encrypts the latest ledger secret (AES-256-GCM, the additional data naming
what it is, from which seqno it applies and under which threshold). The wrapping key is split k-of-n
(`shamir.split`) among the recovery members, those with an encryption key, in member id order; each
member's share is encrypted to its RSA key (RSA-OAEP, SHA-256 digest and MGF1). The result is public: it
goes to a public KV map, and after a disaster any `threshold` members decrypt their shares locally and
submit them, which gives back the wrapping key and so the latest ledger secret (and through
`secret_chain`, every older one). A new issuance (new members, threshold or secret) uses a new wrapping
key, so shares of an older issuance no longer help.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from enclave.governance.proposals import loads_strict
from enclave.ledger.ledger_secrets import LEDGER_SECRET_SIZE, LedgerSecret
from enclave.platform.api import RandomBytes
from enclave.recovery.errors import (
    InvalidMemberKey,
    InvalidRecoveryMembers,
    InvalidShare,
    InvalidSharingParameters,
    NotEnoughShares,
    RecoveryFormatError,
    UndecryptableShare,
    UnknownRecoveryMember,
    WrongShares,
)
from enclave.recovery.shamir import MAX_SHARES, Share, combine, split

WRAPPING_KEY_SIZE = 32
GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16
WRAPPED_SECRET_SIZE = GCM_NONCE_SIZE + LEDGER_SECRET_SIZE + GCM_TAG_SIZE
MIN_RSA_KEY_BITS = 2048
ISSUED_SHARES_VERSION = 1
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


@dataclass(frozen=True, slots=True)
class RecoveryMember:
    """An active member with an encryption key (CCF: `public:ccf.gov.members.encryption_public_keys`)."""

    member_id: str
    encryption_public_key_pem: str


@dataclass(frozen=True, slots=True)
class IssuedShares:
    """One issuance: public, so it can live in a public KV map and be read back after a disaster.

    The members' shares have indices 1..n in member id order (`share_index`).
    """

    threshold: int
    # AES-256-GCM nonce || ciphertext || tag of the latest ledger secret under the wrapping key
    wrapped_latest_secret: bytes
    latest_secret_from_seqno: int
    # member id -> RSA-OAEP(share.to_bytes()) to that member's encryption key
    encrypted_shares: Mapping[str, bytes]


def _wrapping_aad(from_seqno: int, threshold: int) -> bytes:
    """Binds the public fields of the issuance, so editing them in the KV breaks the unwrap."""
    return f"sealchain recovery v1: latest ledger secret from {from_seqno}, threshold {threshold}".encode()


def _rsa_public_key(member: RecoveryMember) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(member.encryption_public_key_pem.encode())
    except (ValueError, TypeError) as exc:
        raise InvalidMemberKey(
            f"member {member.member_id}'s encryption key is not a PEM public key ({exc}): "
            "set an RSA key of at least 2048 bits"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_KEY_BITS:
        raise InvalidMemberKey(
            f"member {member.member_id}'s encryption key is not RSA of at least {MIN_RSA_KEY_BITS} bits: "
            "give the member an RSA encryption key"
        )
    return key


def issue_shares(
    latest_secret: LedgerSecret,
    from_seqno: int,
    members: Sequence[RecoveryMember],
    threshold: int,
    random_bytes: RandomBytes,
) -> IssuedShares:
    """CCF's share issuance: a new wrapping key for `latest_secret`, split `threshold`-of-`len(members)`."""
    member_ids = [member.member_id for member in members]
    if not members:
        raise InvalidRecoveryMembers("recovery needs at least one member with an encryption key")
    if len(set(member_ids)) != len(member_ids):
        raise InvalidRecoveryMembers(f"each recovery member may appear once, got {sorted(member_ids)}")
    if len(members) > MAX_SHARES:
        raise InvalidRecoveryMembers(f"at most {MAX_SHARES} recovery members, got {len(members)}")
    if not 1 <= threshold <= len(members):
        raise InvalidSharingParameters(
            f"the recovery threshold must be 1..{len(members)} (the recovery members), got {threshold}: "
            "lower it with set_recovery_threshold or add members with encryption keys"
        )
    ordered = sorted(members, key=lambda member: member.member_id)
    public_keys = [_rsa_public_key(member) for member in ordered]
    wrapping_key = random_bytes(WRAPPING_KEY_SIZE)
    nonce = random_bytes(GCM_NONCE_SIZE)
    wrapped = nonce + AESGCM(wrapping_key).encrypt(
        nonce, latest_secret.key, _wrapping_aad(from_seqno, threshold)
    )
    shares = split(wrapping_key, threshold, len(ordered), random_bytes)
    encrypted = {
        member.member_id: key.encrypt(share.to_bytes(), _OAEP)
        for member, key, share in zip(ordered, public_keys, shares, strict=True)
    }
    return IssuedShares(
        threshold=threshold,
        wrapped_latest_secret=wrapped,
        latest_secret_from_seqno=from_seqno,
        encrypted_shares=encrypted,
    )


def share_index(issued: IssuedShares, member_id: str) -> int:
    """The index of the share issued to `member_id`: a submitted share with another index is not that
    member's (it is someone else's, replayed, or forged)."""
    ordered = sorted(issued.encrypted_shares)
    if member_id not in issued.encrypted_shares:
        raise UnknownRecoveryMember(
            f"member {member_id} was given no share in this issuance: only {ordered} can submit one"
        )
    return ordered.index(member_id) + 1


def decrypt_share(encrypted_share: bytes, member_private_key_pem: bytes) -> Share:
    """The member's side (`sealchain gov share submit`): its share, decrypted locally with its RSA key."""
    try:
        key = serialization.load_pem_private_key(member_private_key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidMemberKey(f"not an unencrypted PEM private key ({exc}): pass the member's key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidMemberKey("a recovery share decrypts with the member's RSA encryption key, not this one")
    try:
        plaintext = key.decrypt(encrypted_share, _OAEP)
    except ValueError:
        raise UndecryptableShare(
            "this share does not decrypt with this key: use the encryption key of the member it was issued to"
        ) from None
    return Share.from_bytes(plaintext)


def recover_latest_secret(issued: IssuedShares, shares: Sequence[Share]) -> LedgerSecret:
    """The latest ledger secret from at least `issued.threshold` distinct shares of this issuance.

    Every submitted share takes part, so one forged share fails the recovery (`WrongShares`) rather than
    being outvoted silently; a share submitted twice counts once.
    """
    distinct = list(dict.fromkeys(shares))
    if len({share.index for share in distinct}) != len(distinct):
        raise InvalidShare("two different shares carry the same index: at least one of them is not genuine")
    if any(len(share.value) != WRAPPING_KEY_SIZE for share in distinct):
        raise InvalidShare(f"a recovery share holds {WRAPPING_KEY_SIZE} bytes: this is not a recovery share")
    if len(distinct) < issued.threshold:
        raise NotEnoughShares(
            f"{len(distinct)} distinct shares of {issued.threshold} needed: more members must submit theirs"
        )
    wrapping_key = combine(distinct)
    nonce = issued.wrapped_latest_secret[:GCM_NONCE_SIZE]
    ciphertext = issued.wrapped_latest_secret[GCM_NONCE_SIZE:]
    aad = _wrapping_aad(issued.latest_secret_from_seqno, issued.threshold)
    try:
        key = AESGCM(wrapping_key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise WrongShares(
            "the shares do not recover the ledger secret: one is forged, damaged or from another issuance"
        ) from None
    return LedgerSecret(key)


def issued_to_json(issued: IssuedShares) -> bytes:
    """Canonical JSON (sorted keys, no spaces, bytes as base64) for the public KV map."""
    document = {
        "version": ISSUED_SHARES_VERSION,
        "threshold": issued.threshold,
        "latest_secret_from_seqno": issued.latest_secret_from_seqno,
        "wrapped_latest_secret": _b64(issued.wrapped_latest_secret),
        "encrypted_shares": {member: _b64(share) for member, share in issued.encrypted_shares.items()},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def issued_from_json(raw: bytes) -> IssuedShares:
    """Strict inverse of `issued_to_json`: `RecoveryFormatError` for anything it would not have written."""
    try:
        document = loads_strict(raw)
    except (ValueError, RecursionError) as exc:
        raise RecoveryFormatError(f"issued recovery shares are not JSON: {exc}") from None
    fields = _object(document, "issued recovery shares")
    expected = {
        "version",
        "threshold",
        "latest_secret_from_seqno",
        "wrapped_latest_secret",
        "encrypted_shares",
    }
    if set(fields) != expected:
        raise RecoveryFormatError(f"issued shares have the fields {sorted(expected)}, got {sorted(fields)}")
    if _int(fields["version"], "version") != ISSUED_SHARES_VERSION:
        raise RecoveryFormatError(
            f"issued recovery shares version {fields['version']} is unknown; this code reads version "
            f"{ISSUED_SHARES_VERSION}"
        )
    encrypted = {
        member: _unb64(share, f"the share of {member}")
        for member, share in _object(fields["encrypted_shares"], "encrypted_shares").items()
    }
    threshold = _int(fields["threshold"], "threshold")
    if not 1 <= threshold <= len(encrypted) <= MAX_SHARES:
        raise RecoveryFormatError(f"threshold {threshold} with {len(encrypted)} shares cannot be an issuance")
    from_seqno = _int(fields["latest_secret_from_seqno"], "latest_secret_from_seqno")
    if from_seqno < 0:
        raise RecoveryFormatError(f"latest_secret_from_seqno is a seqno, got {from_seqno}")
    wrapped = _unb64(fields["wrapped_latest_secret"], "wrapped_latest_secret")
    if len(wrapped) != WRAPPED_SECRET_SIZE:
        raise RecoveryFormatError(f"a wrapped secret is {WRAPPED_SECRET_SIZE} bytes, got {len(wrapped)}")
    return IssuedShares(
        threshold=threshold,
        wrapped_latest_secret=wrapped,
        latest_secret_from_seqno=from_seqno,
        encrypted_shares=encrypted,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise RecoveryFormatError(f"{what} is base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:  # binascii.Error, or text that is not ASCII
        raise RecoveryFormatError(f"{what} is not base64: {exc}") from None


def _int(value: object, what: str) -> int:
    # bool is an int in Python but not in JSON
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecoveryFormatError(f"{what} is an integer, got {type(value).__name__}")
    return value


def _object(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RecoveryFormatError(f"{what} is a JSON object, got {type(value).__name__}")
    return value
