"""Ledger rekey (CCF's `trigger_ledger_rekey`): a new ledger secret for the transactions after the one that
carries it, handed to every Trusted node inside the ledger itself.

The rekey transaction at seqno S writes, for each Trusted node, the new secret encrypted to the node's
identity key (`join_crypto.encrypt_to`, the additional data naming the node and S + 1) in
`public:ccf.internal.ledger_secrets`, keyed by node id. Every node that records S (replicating it, or
replaying its ledger after a restart) decrypts its own copy and uses the secret from S + 1 on; a
truncation below S forgets it again (`LedgerSecrets.rollback`). The primary asks for it when governance
committed a request in `public:ccf.gov.ledger_rekey_requests`, and removes the request in the same
transaction, so each request rekeys once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from enclave.crypto.certs import certificate_public_key, load_certificate_pem
from enclave.crypto.identity import NodeIdentity
from enclave.governance.tables import LEDGER_REKEY_REQUESTS
from enclave.kv.transaction import Transaction
from enclave.kv.write_set import MapWrites
from enclave.ledger.ledger_secrets import LEDGER_SECRET_SIZE, LedgerSecret
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES, SINGLETON_KEY, NodeStatus
from enclave.platform.api import RandomBytes
from enclave.recovery.secret_chain import wrap_previous
from enclave.runtime.errors import JoinRefused
from enclave.runtime.join_crypto import decrypt_with, encrypt_to
from enclave.runtime.service_maps import read_nodes

LEDGER_SECRETS = "public:ccf.internal.ledger_secrets"
# CCF's map: the secret before this rekey, encrypted under the new one (enclave/recovery/secret_chain.py),
# so a service recovered with the latest secret reads every older entry too.
PAST_LEDGER_SECRET = "public:ccf.internal.encrypted_past_ledger_secret"
_AAD_LABEL = b"sealchain ledger secret v1\0"


class RekeyRecordInvalid(ValueError):
    """A rekey record addressed to this node that does not decrypt or parse: the ledger is not the one
    the service wrote (a node's own copy of the secret is authenticated to its key)."""


def _aad(node_id: str, from_seqno: int) -> bytes:
    return _AAD_LABEL + node_id.encode() + b"\0" + from_seqno.to_bytes(8, "big")


def pending_request(tx: Transaction) -> bytes | None:
    """The key of a committed rekey request not yet carried out, if any (oldest first)."""
    requests = tx.scan(LEDGER_REKEY_REQUESTS, limit=1)
    return requests[0][0] if requests else None


def rekey(
    tx: Transaction,
    request_key: bytes,
    previous: tuple[int, LedgerSecret],
    applies_from: int,
    random_bytes: RandomBytes,
) -> LedgerSecret:
    """Writes the rekey transaction into `tx` (to commit at seqno `applies_from - 1`): the new secret for
    every Trusted node, the `previous` (from seqno, secret) under the new one, and the request gone.
    Returns the new secret."""
    secret = LedgerSecret(random_bytes(LEDGER_SECRET_SIZE))
    previous_from, previous_secret = previous
    wrapped = wrap_previous(previous_secret, previous_from, secret, random_bytes)
    tx.put(
        PAST_LEDGER_SECRET,
        SINGLETON_KEY,
        json.dumps({"wrapped": base64.b64encode(wrapped).decode()}).encode(),
    )
    for node in read_nodes(tx):
        if node.status is not NodeStatus.TRUSTED:
            continue
        cert_pem = tx.get(ENDORSED_NODE_CERTIFICATES, node.node_id.encode())
        assert cert_pem is not None, f"trusted node {node.node_id} without an endorsed certificate"
        public_key = certificate_public_key(load_certificate_pem(cert_pem))
        ephemeral, ciphertext = encrypt_to(
            public_key, secret.key, _aad(node.node_id, applies_from), random_bytes
        )
        record = {
            "from_seqno": applies_from,
            "ephemeral_key": base64.b64encode(ephemeral).decode(),
            "ciphertext": base64.b64encode(ciphertext).decode(),
        }
        tx.put(LEDGER_SECRETS, node.node_id.encode(), json.dumps(record, sort_keys=True).encode())
    tx.remove(LEDGER_REKEY_REQUESTS, request_key)
    return secret


def learned_secret(
    public_maps: Mapping[str, MapWrites], node: NodeIdentity
) -> tuple[int, LedgerSecret] | None:
    """The ledger secret a transaction hands this node, and the seqno it applies from; None if it hands
    none. `RekeyRecordInvalid` for a record that names this node but does not decrypt."""
    writes = public_maps.get(LEDGER_SECRETS)
    raw = None if writes is None else writes.writes.get(node.node_id.encode())
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        from_seqno = int(record["from_seqno"])
        ephemeral = base64.b64decode(record["ephemeral_key"], validate=True)
        ciphertext = base64.b64decode(record["ciphertext"], validate=True)
        key = decrypt_with(node.key, ephemeral, ciphertext, _aad(node.node_id, from_seqno))
        return from_seqno, LedgerSecret(key)
    except (ValueError, KeyError, TypeError, JoinRefused) as exc:
        raise RekeyRecordInvalid(f"the ledger secret handed to this node is unusable: {exc}") from None
