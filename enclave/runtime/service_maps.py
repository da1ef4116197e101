"""The service's own KV maps that the runtime reads and writes, beside those of enclave/ledger/tables.py.

CCF's names where CCF has the map (users, members, code ids); values are JSON like CCF's governance maps,
certificates raw PEM. Two internal maps are sealchain's: `public:ccf.internal.membership` records a Raft
membership change in the entry that carries it, and `public:ccf.internal.election` marks the entry an
elected leader appends (both so that a restart rebuilds Raft's log from the ledger alone). Every map named
`ccf.*` or `public:ccf.*` is reserved: users may neither read nor write it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass

from consensus import ChangeKind, ConfChange
from consensus import NodeId as RaftNodeId
from enclave.governance.tables import (
    MEMBERS_CERTS,
    USERS_CERTS,
    to_json,
)
from enclave.kv.transaction import Transaction
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.tables import (
    NODES_INFO,
    SERVICE_INFO,
    SINGLETON_KEY,
    NodeStatus,
    ServiceStatus,
)

# Governance owns the governance maps; the runtime reads them (and writes the genesis values).
MEMBERSHIP = "public:ccf.internal.membership"
ELECTION = "public:ccf.internal.election"
_RESERVED_PREFIXES = ("ccf.", "public:ccf.")


class MalformedServiceRecord(AssertionError):
    """A service map holds a value the runtime never writes: our bug (only the enclave writes them)."""


# The most keys one scan returns (the built-in `Scan` and the `kv.scan` procedure).
MAX_SCAN_LIMIT = 10_000


def is_reserved_map(map_name: str) -> bool:
    """CCF: `ccf.*` and `public:ccf.*` maps belong to the service (governance and internal state)."""
    return map_name.startswith(_RESERVED_PREFIXES)


def _from_json(raw: bytes, what: str) -> object:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise MalformedServiceRecord(f"{what}: {exc}") from None


# -- nodes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node's row of `public:ccf.gov.nodes.info` as the runtime uses it."""

    node_id: str
    status: NodeStatus
    peer_address: str
    client_address: str


def node_data(peer_address: str, client_address: str) -> dict[str, str]:
    """The `node_data` of a node's info: where peers and clients reach it."""
    return {"peer_address": peer_address, "client_address": client_address}


def read_node(tx: Transaction, node_id: str) -> NodeRecord | None:
    """The node's row, or None if the service never recorded it."""
    raw = tx.get(NODES_INFO, node_id.encode())
    return None if raw is None else _node_record(node_id, raw)


def read_nodes(tx: Transaction) -> list[NodeRecord]:
    return [_node_record(key.decode(), raw) for key, raw in tx.scan(NODES_INFO)]


# The parsed forms of node rows and of the service's status are kept per raw value: they are read on every
# client call or forward and change only at governance transitions (their JSON parse was 2-3% of a node's
# enclave time under load). A changed row is a new raw value, so nothing stale is ever returned.
@functools.lru_cache(maxsize=256)
def _node_record(node_id: str, raw: bytes) -> NodeRecord:
    info = _from_json(raw, f"node {node_id}")
    if not isinstance(info, dict):
        raise MalformedServiceRecord(f"node {node_id}: not an object")
    data = info.get("node_data") or {}
    return NodeRecord(
        node_id,
        NodeStatus(info["status"]),
        str(data.get("peer_address", "")),
        str(data.get("client_address", "")),
    )


# -- service --------------------------------------------------------------------------------------------


def read_service_status(tx: Transaction) -> ServiceStatus | None:
    raw = tx.get(SERVICE_INFO, SINGLETON_KEY)
    return None if raw is None else _service_status(raw)


@functools.lru_cache(maxsize=16)
def _service_status(raw: bytes) -> ServiceStatus:
    info = _from_json(raw, "service info")
    assert isinstance(info, dict)
    return ServiceStatus(info["status"])


def client_certificate_pems(tx: Transaction) -> tuple[str, ...]:
    """Every user's and member's certificate, sorted and without repeats."""
    pems = {raw.decode() for map_name in (USERS_CERTS, MEMBERS_CERTS) for _, raw in tx.scan(map_name)}
    return tuple(sorted(pems))


# -- membership and elections (sealchain's internal maps) ----------------------------------------------


def membership_write_set(change: ConfChange) -> WriteSet:
    value = to_json({"kind": change.kind.value, "node": change.node})
    return WriteSet({MEMBERSHIP: MapWrites(writes={SINGLETON_KEY: value})})


def membership_change_of(public_maps: Mapping[str, MapWrites]) -> ConfChange | None:
    """The Raft membership change an entry's public maps record, if any."""
    writes = public_maps.get(MEMBERSHIP)
    if writes is None:
        return None
    info = _from_json(writes.writes[SINGLETON_KEY], "membership change")
    assert isinstance(info, dict)
    return ConfChange(ChangeKind(info["kind"]), RaftNodeId(info["node"]))


def election_write_set(term: int) -> WriteSet:
    """The entry standing for Raft's election entry (see replication.py): the same bytes on every node."""
    return WriteSet({ELECTION: MapWrites(writes={SINGLETON_KEY: to_json({"view": term})})})
