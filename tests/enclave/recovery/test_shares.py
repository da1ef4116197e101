"""Recovery shares: three members, threshold two; any two members' shares give the ledger secret back."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import replace
from itertools import combinations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from enclave.ledger.ledger_secrets import LedgerSecret
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
from enclave.recovery.shamir import Share
from enclave.recovery.shares import (
    IssuedShares,
    RecoveryMember,
    decrypt_share,
    issue_shares,
    issued_from_json,
    issued_to_json,
    recover_latest_secret,
    share_index,
)
from sealchain.identities import GeneratedIdentity, generate_identity

SECRET = LedgerSecret(bytes(range(32)))
FROM_SEQNO = 42


@pytest.fixture(scope="module")
def identities() -> dict[str, GeneratedIdentity]:
    return {
        name: generate_identity(name, with_encryption_key=True) for name in ("member0", "member1", "member2")
    }


def recovery_member(name: str, identity: GeneratedIdentity) -> RecoveryMember:
    assert identity.encryption_public_key_pem is not None
    return RecoveryMember(name, identity.encryption_public_key_pem.decode())


def issue(identities: dict[str, GeneratedIdentity], seed: int = 0) -> IssuedShares:
    members = [recovery_member(name, identity) for name, identity in identities.items()]
    return issue_shares(SECRET, FROM_SEQNO, members, 2, random.Random(seed).randbytes)


def decrypted_shares(issued: IssuedShares, identities: dict[str, GeneratedIdentity]) -> dict[str, Share]:
    shares = {}
    for name, identity in identities.items():
        assert identity.encryption_private_key_pem is not None
        shares[name] = decrypt_share(issued.encrypted_shares[name], identity.encryption_private_key_pem)
    return shares


def test_any_two_of_three_members_recover_the_latest_ledger_secret(
    identities: dict[str, GeneratedIdentity],
) -> None:
    issued = issue(identities)
    assert issued.threshold == 2
    assert issued.latest_secret_from_seqno == FROM_SEQNO
    assert set(issued.encrypted_shares) == set(identities)
    shares = decrypted_shares(issued, identities)
    assert sorted(share.index for share in shares.values()) == [1, 2, 3]
    for pair in combinations(shares.values(), 2):
        assert recover_latest_secret(issued, pair).key == SECRET.key
    assert recover_latest_secret(issued, list(shares.values())).key == SECRET.key


def test_a_submitted_share_can_be_checked_against_its_submitter(
    identities: dict[str, GeneratedIdentity],
) -> None:
    issued = issue(identities)
    for member, share in decrypted_shares(issued, identities).items():
        assert share.index == share_index(issued, member)
    with pytest.raises(UnknownRecoveryMember):
        share_index(issued, "removed-member")


def test_the_issuance_shows_neither_the_secret_nor_a_share(identities: dict[str, GeneratedIdentity]) -> None:
    issued = issue(identities)
    record = issued_to_json(issued)
    shares = decrypted_shares(issued, identities)
    for secret_bytes in [SECRET.key, *(share.value for share in shares.values())]:
        assert secret_bytes not in record
        assert base64.b64encode(secret_bytes) not in record
        assert secret_bytes.hex().encode() not in record


def test_one_share_is_not_enough_even_submitted_twice(identities: dict[str, GeneratedIdentity]) -> None:
    issued = issue(identities)
    share = decrypted_shares(issued, identities)["member1"]
    with pytest.raises(NotEnoughShares):
        recover_latest_secret(issued, [share])
    with pytest.raises(NotEnoughShares):
        recover_latest_secret(issued, [share, share])
    with pytest.raises(NotEnoughShares):
        recover_latest_secret(issued, [])


def test_a_tampered_share_is_refused(identities: dict[str, GeneratedIdentity]) -> None:
    issued = issue(identities)
    shares = decrypted_shares(issued, identities)
    genuine = shares["member0"]
    tampered = Share(genuine.index, bytes([genuine.value[0] ^ 1]) + genuine.value[1:])
    with pytest.raises(WrongShares):
        recover_latest_secret(issued, [tampered, shares["member1"]])
    # one forged share among more than enough genuine ones is refused, not outvoted
    with pytest.raises(WrongShares):
        recover_latest_secret(issued, [tampered, shares["member1"], shares["member2"]])


def test_a_share_presented_under_another_members_index_is_refused(
    identities: dict[str, GeneratedIdentity],
) -> None:
    issued = issue(identities)
    shares = decrypted_shares(issued, identities)
    swapped = Share(shares["member2"].index, shares["member0"].value)
    with pytest.raises(WrongShares):
        recover_latest_secret(issued, [swapped, shares["member1"]])
    with pytest.raises(InvalidShare):
        recover_latest_secret(issued, [swapped, shares["member2"]])


def test_a_share_of_another_issuance_does_not_help(identities: dict[str, GeneratedIdentity]) -> None:
    # Re-issued (a member removed, the threshold changed): the old shares no longer recover anything.
    old = issue(identities, seed=1)
    new = issue(identities, seed=2)
    old_shares = decrypted_shares(old, identities)
    new_shares = decrypted_shares(new, identities)
    with pytest.raises(WrongShares):
        recover_latest_secret(new, [old_shares["member0"], new_shares["member1"]])
    with pytest.raises(WrongShares):
        recover_latest_secret(new, [old_shares["member0"], old_shares["member1"]])


def test_a_share_decrypts_only_with_its_members_key(identities: dict[str, GeneratedIdentity]) -> None:
    issued = issue(identities)
    member0_key = identities["member0"].encryption_private_key_pem
    assert member0_key is not None
    with pytest.raises(UndecryptableShare):
        decrypt_share(issued.encrypted_shares["member1"], member0_key)
    damaged = bytearray(issued.encrypted_shares["member0"])
    damaged[10] ^= 1
    with pytest.raises(UndecryptableShare):
        decrypt_share(bytes(damaged), member0_key)
    with pytest.raises(InvalidMemberKey):
        decrypt_share(issued.encrypted_shares["member0"], identities["member0"].private_key_pem)
    with pytest.raises(InvalidMemberKey):
        decrypt_share(issued.encrypted_shares["member0"], b"not a key")


def test_editing_the_public_record_breaks_recovery(identities: dict[str, GeneratedIdentity]) -> None:
    issued = issue(identities)
    shares = list(decrypted_shares(issued, identities).values())
    # Lowering the threshold in the KV does not let one member recover alone.
    with pytest.raises(WrongShares):
        recover_latest_secret(replace(issued, threshold=1), shares[:1])
    with pytest.raises(WrongShares):
        recover_latest_secret(replace(issued, latest_secret_from_seqno=FROM_SEQNO + 1), shares)


def test_the_issuance_round_trips_through_canonical_json(identities: dict[str, GeneratedIdentity]) -> None:
    issued = issue(identities)
    raw = issued_to_json(issued)
    assert issued_from_json(raw) == issued
    assert issued_to_json(issued_from_json(raw)) == raw
    document = json.loads(raw)
    assert document["version"] == 1
    assert raw == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def edited(raw: bytes, **changes: object) -> bytes:
    document = json.loads(raw)
    document.update(changes)
    return json.dumps({key: value for key, value in document.items() if value is not None}).encode()


GARBAGE: dict[str, Callable[[bytes], bytes]] = {
    "not json": lambda raw: b"\x80 not json",
    "a list": lambda raw: b"[]",
    "missing field": lambda raw: edited(raw, threshold=None),
    "extra field": lambda raw: edited(raw, note="hi"),
    "unknown version": lambda raw: edited(raw, version=2),
    "boolean threshold": lambda raw: edited(raw, threshold=True),
    "text threshold": lambda raw: edited(raw, threshold="2"),
    "threshold above shares": lambda raw: edited(raw, threshold=4),
    "threshold zero": lambda raw: edited(raw, threshold=0),
    "negative seqno": lambda raw: edited(raw, latest_secret_from_seqno=-1),
    "bad base64": lambda raw: edited(raw, wrapped_latest_secret="!!!"),
    "non-ascii base64": lambda raw: edited(raw, wrapped_latest_secret="é"),
    "short wrapped secret": lambda raw: edited(raw, wrapped_latest_secret=base64.b64encode(b"x").decode()),
    "shares not an object": lambda raw: edited(raw, encrypted_shares=["a"]),
    "share not text": lambda raw: edited(raw, encrypted_shares={"member0": 1}),
    "duplicate key": lambda raw: raw.replace(b'{"encrypted_shares"', b'{"version":1,"encrypted_shares"'),
}


@pytest.mark.parametrize("damage", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_record_this_code_would_not_write_is_refused(
    identities: dict[str, GeneratedIdentity], damage: Callable[[bytes], bytes]
) -> None:
    raw = issued_to_json(issue(identities))
    with pytest.raises(RecoveryFormatError):
        issued_from_json(damage(raw))


def test_impossible_issuances_are_refused(identities: dict[str, GeneratedIdentity]) -> None:
    members = [recovery_member(name, identity) for name, identity in identities.items()]
    randomness = random.Random(5).randbytes
    for threshold in (0, 4):
        with pytest.raises(InvalidSharingParameters):
            issue_shares(SECRET, FROM_SEQNO, members, threshold, randomness)
    with pytest.raises(InvalidRecoveryMembers):
        issue_shares(SECRET, FROM_SEQNO, [], 1, randomness)
    with pytest.raises(InvalidRecoveryMembers):
        issue_shares(SECRET, FROM_SEQNO, [members[0], members[0]], 1, randomness)
    many = [RecoveryMember(f"m{i}", members[0].encryption_public_key_pem) for i in range(256)]
    with pytest.raises(InvalidRecoveryMembers):
        issue_shares(SECRET, FROM_SEQNO, many, 2, randomness)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


@pytest.mark.parametrize(
    "key_pem",
    [
        pem(ec.generate_private_key(ec.SECP384R1())),
        pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "not a key",
    ],
    ids=["elliptic curve", "rsa-1024", "garbage"],
)
def test_a_member_key_that_is_not_strong_rsa_is_refused(
    identities: dict[str, GeneratedIdentity], key_pem: str
) -> None:
    members = [recovery_member(name, identity) for name, identity in identities.items()]
    members.append(RecoveryMember("weak", key_pem))
    with pytest.raises(InvalidMemberKey):
        issue_shares(SECRET, FROM_SEQNO, members, 2, random.Random(6).randbytes)
