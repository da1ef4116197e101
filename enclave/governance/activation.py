"""Member activation (CCF): an Accepted member fetches the state digest, signs an ack of it, and becomes
Active, counting towards thresholds from then on.

CCF's state digest is the Merkle root; governance sees only the KV, so sealchain's is the SHA-256 of the
governance state a member acknowledges: who governs and under which rules (members, users, nodes,
service, constitution, allow-lists), each `(map, key, value)` length-prefixed, maps and keys in order.
The digest issued is recorded in `public:ccf.gov.members.acks`; the ack must carry exactly that one.
"""

from __future__ import annotations

import hashlib

from enclave.governance.errors import MalformedAck, StateDigestMismatch
from enclave.governance.proposals import loads_strict
from enclave.governance.tables import (
    CONSTITUTION,
    MEASUREMENT_MAPS,
    MEMBERS_ACKS,
    MEMBERS_CERTS,
    MEMBERS_ENCRYPTION_KEYS,
    MEMBERS_INFO,
    SERVICE_CONFIG,
    USERS_CERTS,
    USERS_INFO,
    KvView,
    MemberStatus,
    member_info_value,
    read_json_object,
    to_json,
)
from enclave.ledger.tables import ENDORSED_NODE_CERTIFICATES, NODES_INFO, SERVICE_INFO

_DOMAIN = b"sealchain.gov.state_digest.v1\0"
STATE_MAPS = tuple(
    sorted(
        {
            MEMBERS_CERTS,
            MEMBERS_ENCRYPTION_KEYS,
            MEMBERS_INFO,
            USERS_CERTS,
            USERS_INFO,
            NODES_INFO,
            ENDORSED_NODE_CERTIFICATES,
            SERVICE_INFO,
            SERVICE_CONFIG,
            CONSTITUTION,
            *MEASUREMENT_MAPS.values(),
        }
    )
)


def _framed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def governance_state_digest(tx: KvView) -> str:
    digest = hashlib.sha256(_DOMAIN)
    for map_name in STATE_MAPS:
        for key, value in tx.scan(map_name):
            digest.update(_framed(map_name.encode()) + _framed(key) + _framed(value))
    return digest.hexdigest()


def issue_state_digest(tx: KvView, member_id: str) -> str:
    """CCF `state-digests:update`: record (and return) the digest the member is to ack."""
    state_digest = governance_state_digest(tx)
    tx.put(MEMBERS_ACKS, member_id.encode(), to_json({"state_digest": state_digest}))
    return state_digest


def parse_ack(payload: bytes) -> str:
    """CCF: an ack's payload is `{"state_digest": HEX}`."""
    try:
        ack = loads_strict(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedAck(f"an ack is JSON: {exc}") from None
    if not isinstance(ack, dict) or set(ack) != {"state_digest"} or not isinstance(ack["state_digest"], str):
        raise MalformedAck('an ack is {"state_digest": HEX}')
    return ack["state_digest"]


def check_ack(tx: KvView, member_id: str, acked_digest: str) -> None:
    """Read-only: the ack names the digest last issued to this member."""
    issued = read_json_object(tx, MEMBERS_ACKS, member_id.encode())
    if issued is None:
        raise StateDigestMismatch(f"no state digest was issued to member {member_id}: fetch one first")
    if issued.get("state_digest") != acked_digest:
        raise StateDigestMismatch(f"member {member_id} acked {acked_digest}, not the digest issued to it")


def activate(tx: KvView, member_id: str) -> None:
    """Accepted -> Active, keeping the member's data."""
    info = read_json_object(tx, MEMBERS_INFO, member_id.encode())
    assert info is not None, f"authenticated member {member_id} has no info"
    tx.put(MEMBERS_INFO, member_id.encode(), member_info_value(MemberStatus.ACTIVE, info.get("member_data")))
