"""Disaster recovery, the last step (DESIGN.md 4.6): members' recovery shares restore the private state.

Each share a member submits (decrypted on the member's own machine) is kept in a private map, so only in
the ledger encrypted under the recovered service's own secret, until the recorded threshold of the old
service's issuance is met. Then, in the transaction of the last share: the shares rebuild the old
service's latest ledger secret (`enclave/recovery/shares.py`), the chain of past secrets in the old ledger
gives every older one, every old entry's private domain is decrypted and the private state at the end of
the old ledger is written, and the service is Open. Shares that do not rebuild the key are discarded
(with the answer saying so) so members can submit again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from enclave.governance.apply import open_service
from enclave.governance.errors import MalformedShare, NotRecovering
from enclave.kv.transaction import Transaction
from enclave.ledger.entry import decode_entry
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.ledger.tables import SINGLETON_KEY, ServiceStatus
from enclave.platform.api import RandomBytes
from enclave.recovery.errors import ChainBroken, RecoveryError
from enclave.recovery.secret_chain import unwrap_previous, wrap_previous
from enclave.recovery.shamir import Share
from enclave.recovery.shares import IssuedShares, issued_from_json, recover_latest_secret, share_index
from enclave.runtime.recovery_shares import RECOVERY_SHARES
from enclave.runtime.rekey import PAST_LEDGER_SECRET
from enclave.runtime.service_maps import read_service_status

SUBMITTED_SHARES = "ccf.internal.submitted_recovery_shares"


@dataclass(frozen=True, slots=True)
class RecoveryContext:
    """What restoring needs from the running node: the inherited ledger, this service's ledger secret
    (it keeps the old service's latest, for a later recovery to walk back through), and randomness."""

    inherited_ledger: Callable[[], Sequence[bytes]]
    current_secret: Callable[[], LedgerSecret]
    random_bytes: RandomBytes


def accept_share(
    tx: Transaction, member_id: str, share_bytes: bytes, context: RecoveryContext
) -> dict[str, object]:
    """Records `member_id`'s share; restores the private state once enough are in. What happened, as the
    body of the member's answer."""
    if read_service_status(tx) is not ServiceStatus.WAITING_FOR_RECOVERY_SHARES:
        raise NotRecovering("the service is not waiting for recovery shares")
    raw_issued = tx.get(RECOVERY_SHARES, SINGLETON_KEY)
    if raw_issued is None:
        raise NotRecovering("the recovered ledger records no recovery shares: it cannot be recovered")
    issued = issued_from_json(raw_issued)
    try:
        share = Share.from_bytes(share_bytes)
        expected = share_index(issued, member_id)
    except RecoveryError as exc:
        raise MalformedShare(str(exc)) from None
    if share.index != expected:
        raise MalformedShare(f"member {member_id}'s share has index {expected}, not {share.index}")
    tx.put(SUBMITTED_SHARES, member_id.encode(), share_bytes)
    submitted = [Share.from_bytes(raw) for _, raw in tx.scan(SUBMITTED_SHARES)]
    if len(submitted) < issued.threshold:
        return {"submitted": len(submitted), "threshold": issued.threshold}
    for key, _ in tx.scan(SUBMITTED_SHARES):
        tx.remove(SUBMITTED_SHARES, key)
    old_ledger = context.inherited_ledger()
    try:
        secrets = _old_secrets(issued, submitted, old_ledger)
    except RecoveryError as exc:
        return {"submitted": 0, "threshold": issued.threshold, "failure": f"{type(exc).__name__}: {exc}"}
    restored = _restore(tx, secrets, old_ledger)
    old_from, old_latest = secrets.versions()[-1]
    wrapped = wrap_previous(old_latest, old_from, context.current_secret(), context.random_bytes)
    record = json.dumps({"wrapped": base64.b64encode(wrapped).decode()})
    tx.put(PAST_LEDGER_SECRET, SINGLETON_KEY, record.encode())
    open_service(tx)
    return {"restored_keys": restored, "service": ServiceStatus.OPEN.value}


def _old_secrets(issued: IssuedShares, shares: Sequence[Share], old_ledger: Sequence[bytes]) -> LedgerSecrets:
    """The old service's secrets: its latest from the shares, each older one from the chain."""
    chain: list[tuple[int, LedgerSecret]] = [
        (issued.latest_secret_from_seqno, recover_latest_secret(issued, shares))
    ]
    wrapped_records = [
        base64.b64decode(json.loads(entry.public_maps[PAST_LEDGER_SECRET].writes[SINGLETON_KEY])["wrapped"])
        for entry in map(decode_entry, old_ledger)
        if PAST_LEDGER_SECRET in entry.public_maps
    ]
    while chain[-1][0] > 1:
        for wrapped in wrapped_records:
            try:
                chain.append(unwrap_previous(wrapped, chain[-1][1]))
                break
            except RecoveryError:
                continue
        else:
            raise ChainBroken(f"no record in the ledger holds the secret before seqno {chain[-1][0]}")
    secrets = LedgerSecrets()
    for from_seqno, secret in reversed(chain):
        secrets.add(from_seqno, secret)
    return secrets


def _restore(tx: Transaction, secrets: LedgerSecrets, old_ledger: Sequence[bytes]) -> int:
    """Writes the old ledger's private state at its end; the number of keys."""
    state: dict[str, dict[bytes, bytes | None]] = {}
    for seqno, raw in enumerate(old_ledger, start=1):
        for name, writes in decode_entry(raw).decrypt_private(secrets.secret_for(seqno)).items():
            table = state.setdefault(name, {})
            table.update(writes.writes)
            table.update(dict.fromkeys(writes.removals))
    restored = 0
    for name, table in state.items():
        for key, value in table.items():
            if value is not None:
                tx.put(name, key, value)
                restored += 1
    return restored
