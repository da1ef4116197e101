"""The governance and internal maps CCF's tools read, their value encodings and the legal status changes.

Values of these maps are JSON, except endorsed certificates (raw PEM); keys are ids as UTF-8 hex, and
singleton maps use an 8-byte zero key (CCF's well-known singleton key).
"""

from __future__ import annotations

import json
from enum import Enum

from enclave.crypto.identity import NodeIdentity
from enclave.crypto.ids import node_id_of
from enclave.crypto.keys import PublicKey, public_key_pem
from enclave.kv.write_set import MapWrites, WriteSet

NODES_INFO = "public:ccf.gov.nodes.info"
ENDORSED_NODE_CERTIFICATES = "public:ccf.gov.nodes.endorsed_certificates"
SERVICE_INFO = "public:ccf.gov.service.info"
SIGNATURES = "public:ccf.internal.signatures"
TREE = "public:ccf.internal.tree"
SINGLETON_KEY = bytes(8)


class NodeStatus(Enum):
    PENDING = "Pending"
    TRUSTED = "Trusted"
    RETIRED = "Retired"


class ServiceStatus(Enum):
    OPENING = "Opening"
    OPEN = "Open"
    WAITING_FOR_RECOVERY_SHARES = "WaitingForRecoveryShares"
    RECOVERING = "Recovering"


# CCF (`ccf.ledger.LedgerValidator`): Opening may always be re-entered (recovery starts a new service).
LEGAL_SERVICE_TRANSITIONS: dict[ServiceStatus | None, frozenset[ServiceStatus]] = {
    None: frozenset({ServiceStatus.OPENING}),
    ServiceStatus.OPENING: frozenset({ServiceStatus.OPEN, ServiceStatus.WAITING_FOR_RECOVERY_SHARES}),
    ServiceStatus.RECOVERING: frozenset({ServiceStatus.WAITING_FOR_RECOVERY_SHARES}),
    ServiceStatus.WAITING_FOR_RECOVERY_SHARES: frozenset({ServiceStatus.OPEN}),
    ServiceStatus.OPEN: frozenset({ServiceStatus.RECOVERING}),
}


def is_legal_service_transition(before: ServiceStatus | None, after: ServiceStatus) -> bool:
    return after in (before, ServiceStatus.OPENING) or after in LEGAL_SERVICE_TRANSITIONS[before]


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def node_writes(node: NodeIdentity, status: NodeStatus, node_data: object = None) -> dict[str, MapWrites]:
    """A node's row in `nodes.info` and its endorsed certificate. No `cert` field in the info: CCF's
    validator treats that as a 1.x self-signed certificate and rejects it beside an endorsed one."""
    return endorsed_node_writes(node.key.public_key(), node.cert_pem, status, node_data)


def endorsed_node_writes(
    public_key: PublicKey, cert_pem: str, status: NodeStatus, node_data: object = None
) -> dict[str, MapWrites]:
    """`node_writes` for a node whose private key is elsewhere (a joining node, recorded by the primary)."""
    key = node_id_of(public_key).encode()
    info = {
        "status": status.value,
        "public_key": public_key_pem(public_key),
        "node_data": node_data,
        "ledger_secret_seqno": 0,
        "retired_committed": False,
    }
    return {
        NODES_INFO: MapWrites(writes={key: _json(info)}),
        ENDORSED_NODE_CERTIFICATES: MapWrites(writes={key: cert_pem.encode()}),
    }


def service_info_writes(service_cert_pem: str, status: ServiceStatus) -> dict[str, MapWrites]:
    info = {"cert": service_cert_pem, "status": status.value, "recovery_count": 0, "service_data": None}
    return {SERVICE_INFO: MapWrites(writes={SINGLETON_KEY: _json(info)})}


def genesis_write_set(
    service_cert_pem: str, node: NodeIdentity, node_data: object = None, extra: WriteSet | None = None
) -> WriteSet:
    """The first transaction (CCF's genesis): the service is Opening, the first node Trusted and endorsed.
    `extra` carries what else genesis writes (members, constitution); its maps must not overlap these."""
    maps = {
        **node_writes(node, NodeStatus.TRUSTED, node_data),
        **service_info_writes(service_cert_pem, ServiceStatus.OPENING),
    }
    if extra is not None:
        overlap = maps.keys() & extra.maps.keys()
        if overlap:
            raise ValueError(f"genesis extras overlap the genesis maps: {sorted(overlap)}")
        maps.update(extra.maps)
    return WriteSet(maps)
