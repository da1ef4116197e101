"""Recovery shares kept current (DESIGN.md 4.6, CCF's share manager): the latest ledger secret, wrapped by a
key split k-of-n among the Active members that have an encryption key, each share encrypted to its
member (`enclave/recovery/shares.py`), in `public:ccf.internal.recovery_shares`.

The primary re-issues them (fresh wrapping key and shares, so an old share never combines with a new
one) whenever what they were issued for no longer holds: the recovery members or their keys, the
recovery threshold (`set_recovery_threshold`; 1 until set), or the latest ledger secret (a rekey). Beside
the issuance (`issued_to_json`, under the singleton key) the map keeps a digest of what it was issued for
(`ISSUED_FOR`); comparing it is all the check costs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from enclave.governance.tables import MEMBERS_ENCRYPTION_KEYS, active_member_ids, recovery_threshold
from enclave.kv.transaction import Transaction
from enclave.ledger.ledger_secrets import LedgerSecrets
from enclave.ledger.tables import SINGLETON_KEY, ServiceStatus
from enclave.platform.api import RandomBytes
from enclave.recovery.shares import RecoveryMember, issue_shares, issued_to_json
from enclave.runtime.service_maps import read_service_status

RECOVERY_SHARES = "public:ccf.internal.recovery_shares"
ISSUED_FOR = b"issued_for"
DEFAULT_THRESHOLD = 1


def recovery_members(tx: Transaction) -> list[RecoveryMember]:
    """CCF: Active members with an encryption key, by member id."""
    active = active_member_ids(tx)
    return [
        RecoveryMember(key.decode(), pem.decode())
        for key, pem in tx.scan(MEMBERS_ENCRYPTION_KEYS)
        if key.decode() in active
    ]


def _issued_for(members: Sequence[RecoveryMember], threshold: int, secret_from_seqno: int) -> str:
    document = {
        "members": [[member.member_id, member.encryption_public_key_pem] for member in members],
        "threshold": threshold,
        "secret_from_seqno": secret_from_seqno,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _wanted(tx: Transaction, secrets: LedgerSecrets) -> tuple[list[RecoveryMember], int, int, str]:
    members = recovery_members(tx)
    threshold = min(recovery_threshold(tx) or DEFAULT_THRESHOLD, len(members))
    from_seqno, _ = secrets.versions()[-1]
    return members, threshold, from_seqno, _issued_for(members, threshold, from_seqno)


def shares_are_stale(tx: Transaction, secrets: LedgerSecrets) -> bool:
    """Whether the recorded shares were issued for other members, threshold or secret (or never). Not
    while a recovered service waits for its members' shares: those are of the old service's issuance."""
    if read_service_status(tx) in (ServiceStatus.RECOVERING, ServiceStatus.WAITING_FOR_RECOVERY_SHARES):
        return False
    members, _, _, digest = _wanted(tx, secrets)
    recorded = tx.get(RECOVERY_SHARES, ISSUED_FOR)
    if recorded is None:
        return bool(members)
    return recorded.decode() != digest


def reissue(tx: Transaction, secrets: LedgerSecrets, random_bytes: RandomBytes) -> None:
    """Issues shares of the latest secret to the current recovery members (none: the record goes)."""
    members, threshold, from_seqno, digest = _wanted(tx, secrets)
    if not members:
        tx.remove(RECOVERY_SHARES, SINGLETON_KEY)
        tx.remove(RECOVERY_SHARES, ISSUED_FOR)
        return
    latest = secrets.secret_for(from_seqno)
    issued = issue_shares(latest, from_seqno, members, threshold, random_bytes)
    tx.put(RECOVERY_SHARES, SINGLETON_KEY, issued_to_json(issued))
    tx.put(RECOVERY_SHARES, ISSUED_FOR, digest.encode())
