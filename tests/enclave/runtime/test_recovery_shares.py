"""Recovery shares on one real enclave: issued once the recovery member is Active, re-issued on a rekey and
on a threshold change, and always the latest secret's: the member's own share recovers exactly it."""

from __future__ import annotations

import random

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from enclave.ledger.tables import SINGLETON_KEY
from enclave.recovery.shares import decrypt_share, issued_from_json, recover_latest_secret
from enclave.runtime import messages as m
from enclave.runtime.recovery_shares import RECOVERY_SHARES
from tests.enclave.runtime.node_helpers import give, open_service, pass_proposal, tick_for_a_while
from tests.sim.world import EPOCH_MS, SETTINGS, Host, addresses, new_enclave, provisioned

ENCRYPTION_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ENCRYPTION_PRIVATE_PEM = ENCRYPTION_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)


def recovery_member_service() -> Host:
    """A service whose one member has an encryption key (a recovery member), opened."""
    world = provisioned()
    public_pem = ENCRYPTION_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    member = m.MemberInfo(world.member_info.cert_pem, public_pem.decode())
    host = Host(0, new_enclave(0, random.Random(4)))
    give(host, m.StartNetwork(EPOCH_MS, addresses(0), (member,), (world.user_cert_pem,), SETTINGS))
    tick_for_a_while(host)
    open_service(host)
    tick_for_a_while(host)
    return host


def issued_record(host: Host) -> bytes:
    assert host.enclave is not None and host.enclave.node is not None
    raw = host.enclave.node.rep.kv.begin_committed().get(RECOVERY_SHARES, SINGLETON_KEY)
    assert raw is not None, "no recovery shares issued"
    return raw


def latest_secret_key(host: Host) -> bytes:
    assert host.enclave is not None and host.enclave.node is not None
    return host.enclave.node.secrets.ledger_secrets.versions()[-1][1].key


def recovered_key(host: Host) -> bytes:
    issued = issued_from_json(issued_record(host))
    (encrypted,) = issued.encrypted_shares.values()
    return recover_latest_secret(issued, [decrypt_share(encrypted, ENCRYPTION_PRIVATE_PEM)]).key


def test_the_members_share_recovers_the_latest_secret_through_rekeys_and_threshold_changes() -> None:
    host = recovery_member_service()
    first = issued_record(host)
    assert recovered_key(host) == latest_secret_key(host)

    assert pass_proposal(host, ("trigger_ledger_rekey", {})).proposal_state == "Accepted"
    tick_for_a_while(host)
    tick_for_a_while(host)
    after_rekey = issued_record(host)
    assert after_rekey != first
    assert recovered_key(host) == latest_secret_key(host)

    # A threshold change re-issues too (with a new wrapping key: the old share is useless).
    assert (
        pass_proposal(host, ("set_recovery_threshold", {"recovery_threshold": 1})).proposal_state
        == "Accepted"
    )
    tick_for_a_while(host)
    assert issued_record(host) == after_rekey  # 1 is the threshold already: nothing to re-issue
