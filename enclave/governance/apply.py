"""Apply (writes): an accepted proposal's actions as KV writes.

An action checks the state it applies to (CCF's `apply` throws when, say, the node to trust is not
Pending); `ActionFailed` then makes the proposal Failed, and `enact` flushes nothing of it.
"""

from __future__ import annotations

from typing import assert_never

from enclave.governance.actions import (
    INVALIDATING_ACTIONS,
    Action,
    AddMeasurement,
    RemoveMeasurement,
    RemoveMember,
    RemoveNode,
    RemoveUser,
    SetConstitution,
    SetMember,
    SetMemberData,
    SetRecoveryThreshold,
    SetUser,
    SetUserData,
    TransitionNodeToTrusted,
    TransitionServiceToOpen,
    TriggerLedgerRekey,
    TriggerSnapshot,
)
from enclave.governance.constitution import constitution_value
from enclave.governance.staging import StagedWrites
from enclave.governance.tables import (
    CODE_ID_ALLOWED,
    CONSTITUTION,
    LEDGER_REKEY_REQUESTS,
    MEASUREMENT_MAPS,
    MEMBERS_ACKS,
    MEMBERS_CERTS,
    MEMBERS_ENCRYPTION_KEYS,
    MEMBERS_INFO,
    SERVICE_CONFIG,
    SNAPSHOT_REQUESTS,
    USERS_CERTS,
    USERS_INFO,
    KvView,
    MemberStatus,
    active_member_ids,
    json_object,
    measurement_key,
    member_info_value,
    member_status,
    read_json_object,
    recovery_threshold,
    to_json,
)
from enclave.ledger.tables import (
    ENDORSED_NODE_CERTIFICATES,
    NODES_INFO,
    SERVICE_INFO,
    SINGLETON_KEY,
    NodeStatus,
    ServiceStatus,
    is_legal_service_transition,
)


class ActionFailed(Exception):
    """An accepted proposal's action does not apply to the current state: the proposal is Failed."""


def enact(tx: KvView, actions: tuple[Action, ...], proposal_id: str) -> bool:
    """Apply every action, or none (raises ActionFailed, having written nothing). Returns whether the
    proposal changed what invalidates other open proposals (see `actions.INVALIDATING_ACTIONS`)."""
    staged = StagedWrites(tx)
    for action in actions:
        apply_action(staged, action, proposal_id)
    staged.flush()
    return any(isinstance(action, INVALIDATING_ACTIONS) for action in actions)


def apply_action(kv: KvView, action: Action, proposal_id: str) -> None:
    match action:
        case SetMember():
            _set_member(kv, action)
        case RemoveMember():
            _remove_member(kv, action.member_id)
        case SetMemberData():
            status = _existing_member(kv, action.member_id)
            kv.put(MEMBERS_INFO, action.member_id.encode(), member_info_value(status, action.member_data))
        case SetUser():
            if kv.get(USERS_CERTS, action.user_id.encode()) is not None:
                raise ActionFailed(f"user {action.user_id} is already set")
            kv.put(USERS_CERTS, action.user_id.encode(), action.cert_pem.encode())
            _set_user_data(kv, action.user_id, action.user_data)
        case RemoveUser():
            _existing_user(kv, action.user_id)
            kv.remove(USERS_CERTS, action.user_id.encode())
            kv.remove(USERS_INFO, action.user_id.encode())
        case SetUserData():
            _existing_user(kv, action.user_id)
            _set_user_data(kv, action.user_id, action.user_data)
        case TransitionNodeToTrusted():
            _trust_node(kv, action.node_id)
        case RemoveNode():
            _remove_node(kv, action.node_id)
        case AddMeasurement():
            key = measurement_key(action.measurement)
            if kv.get(MEASUREMENT_MAPS[action.platform], key) is not None:
                raise ActionFailed(f"measurement {key.decode()} is already allowed on {action.platform}")
            kv.put(MEASUREMENT_MAPS[action.platform], key, to_json(CODE_ID_ALLOWED))
        case RemoveMeasurement():
            key = measurement_key(action.measurement)
            if kv.get(MEASUREMENT_MAPS[action.platform], key) is None:
                raise ActionFailed(f"measurement {key.decode()} is not allowed on {action.platform}")
            kv.remove(MEASUREMENT_MAPS[action.platform], key)
        case SetConstitution():
            kv.put(CONSTITUTION, SINGLETON_KEY, constitution_value(action.constitution))
        case TransitionServiceToOpen():
            open_service(kv)
        case SetRecoveryThreshold():
            _set_recovery_threshold(kv, action.recovery_threshold)
        case TriggerLedgerRekey():
            # The runtime carries it out when it sees the committed request (CCF: `triggerLedgerRekey`).
            kv.put(LEDGER_REKEY_REQUESTS, proposal_id.encode(), to_json({"proposal_id": proposal_id}))
        case TriggerSnapshot():
            # The primary takes the snapshot once the request commits (enclave/runtime/snapshotting.py).
            kv.put(SNAPSHOT_REQUESTS, proposal_id.encode(), to_json({"proposal_id": proposal_id}))
        case _:
            assert_never(action)


# -- members and users ----------------------------------------------------------------------------------


def _existing_member(kv: KvView, member_id: str) -> MemberStatus:
    status = member_status(kv, member_id)
    if status is None:
        raise ActionFailed(f"member {member_id} does not exist")
    return status


def _recovery_members(kv: KvView) -> int:
    return len(kv.scan(MEMBERS_ENCRYPTION_KEYS))


def _set_member(kv: KvView, action: SetMember) -> None:
    """CCF: a new member is Accepted; it becomes Active by acking the state digest."""
    key = action.member_id.encode()
    if kv.get(MEMBERS_CERTS, key) is not None:
        raise ActionFailed(f"member {action.member_id} is already set")
    kv.put(MEMBERS_CERTS, key, action.cert_pem.encode())
    kv.put(MEMBERS_INFO, key, member_info_value(MemberStatus.ACCEPTED, action.member_data))
    if action.encryption_pub_key is not None:
        kv.put(MEMBERS_ENCRYPTION_KEYS, key, action.encryption_pub_key.encode())


def _remove_member(kv: KvView, member_id: str) -> None:
    """CCF: refused when it would leave fewer recovery members than the recovery threshold; sealchain also
    keeps at least one Active member (nobody could govern otherwise)."""
    status = _existing_member(kv, member_id)
    key = member_id.encode()
    if status is MemberStatus.ACTIVE and active_member_ids(kv) == {member_id}:
        raise ActionFailed(f"member {member_id} is the last Active member")
    threshold = recovery_threshold(kv)
    is_recovery_member = kv.get(MEMBERS_ENCRYPTION_KEYS, key) is not None
    if threshold is not None and is_recovery_member and _recovery_members(kv) - 1 < threshold:
        raise ActionFailed(f"removing member {member_id} leaves fewer recovery members than {threshold}")
    for map_name in (MEMBERS_CERTS, MEMBERS_INFO, MEMBERS_ENCRYPTION_KEYS, MEMBERS_ACKS):
        kv.remove(map_name, key)


def _existing_user(kv: KvView, user_id: str) -> None:
    if kv.get(USERS_CERTS, user_id.encode()) is None:
        raise ActionFailed(f"user {user_id} does not exist")


def _set_user_data(kv: KvView, user_id: str, user_data: object) -> None:
    """CCF: `users.info` holds `{"user_data": ...}`, and no row when there is no user data."""
    if user_data is None:
        kv.remove(USERS_INFO, user_id.encode())
    else:
        kv.put(USERS_INFO, user_id.encode(), to_json({"user_data": user_data}))


# -- nodes and service ----------------------------------------------------------------------------------


def _node_info(kv: KvView, node_id: str) -> tuple[dict[str, object], NodeStatus]:
    info = read_json_object(kv, NODES_INFO, node_id.encode())
    if info is None:
        raise ActionFailed(f"node {node_id} does not exist")
    return info, NodeStatus(info["status"])


def _trust_node(kv: KvView, node_id: str) -> None:
    """A Pending node becomes Trusted; the runtime then sends it the ledger secrets (DESIGN.md 4.3)."""
    info, status = _node_info(kv, node_id)
    if status is not NodeStatus.PENDING:
        raise ActionFailed(f"node {node_id} is {status.value}, not Pending")
    kv.put(NODES_INFO, node_id.encode(), to_json({**info, "status": NodeStatus.TRUSTED.value}))


def _remove_node(kv: KvView, node_id: str) -> None:
    """CCF: a Pending node is forgotten; a Trusted one is Retired (and leaves the Raft configuration, one
    node at a time: enclave/runtime/membership.py). The last Trusted node stays: nobody would be left to
    run the service."""
    info, status = _node_info(kv, node_id)
    match status:
        case NodeStatus.PENDING:
            kv.remove(NODES_INFO, node_id.encode())
            kv.remove(ENDORSED_NODE_CERTIFICATES, node_id.encode())
        case NodeStatus.TRUSTED:
            if _trusted_nodes(kv) == {node_id}:
                raise ActionFailed(f"node {node_id} is the last Trusted node")
            kv.put(NODES_INFO, node_id.encode(), to_json({**info, "status": NodeStatus.RETIRED.value}))
        case NodeStatus.RETIRED:
            raise ActionFailed(f"node {node_id} is already Retired")
        case _:
            assert_never(status)


def _trusted_nodes(kv: KvView) -> set[str]:
    return {
        key.decode()
        for key, raw in kv.scan(NODES_INFO)
        if json_object(raw, f"node {key.decode()}").get("status") == NodeStatus.TRUSTED.value
    }


def open_service(kv: KvView) -> None:
    """CCF: a new service opens; a recovering one first waits for the members' recovery shares, which
    restore its private state and then open it (enclave/runtime/private_recovery.py calls this too)."""
    info = read_json_object(kv, SERVICE_INFO, SINGLETON_KEY)
    if info is None:
        raise ActionFailed("the service is not recorded")
    status = ServiceStatus(info["status"])
    target = (
        ServiceStatus.WAITING_FOR_RECOVERY_SHARES
        if status is ServiceStatus.RECOVERING
        else ServiceStatus.OPEN
    )
    if status is ServiceStatus.OPEN or not is_legal_service_transition(status, target):
        raise ActionFailed(f"the service cannot open from {status.value}")
    kv.put(SERVICE_INFO, SINGLETON_KEY, to_json({**info, "status": target.value}))


def _set_recovery_threshold(kv: KvView, threshold: int) -> None:
    """CCF: the threshold cannot exceed the number of recovery members (those with encryption keys)."""
    recovery_members = _recovery_members(kv)
    if threshold > recovery_members:
        raise ActionFailed(f"recovery threshold {threshold} exceeds the {recovery_members} recovery members")
    config = read_json_object(kv, SERVICE_CONFIG, SINGLETON_KEY) or {}
    kv.put(SERVICE_CONFIG, SINGLETON_KEY, to_json({**config, "recovery_threshold": threshold}))
