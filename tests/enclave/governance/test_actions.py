"""Accepted proposals change users, nodes, the allow-lists and the service; failed ones change nothing."""

from __future__ import annotations

import json

from enclave.crypto.cose import GovMessageType
from enclave.governance.handler import BallotCast, ProposalSubmitted
from enclave.governance.proposals import ProposalState, read_proposal_info
from enclave.governance.tables import (
    LEDGER_REKEY_REQUESTS,
    MEMBERS_ENCRYPTION_KEYS,
    USERS_CERTS,
    USERS_INFO,
    allowed_measurements,
    recovery_threshold,
)
from enclave.ledger.tables import (
    ENDORSED_NODE_CERTIFICATES,
    NODES_INFO,
    SERVICE_INFO,
    SINGLETON_KEY,
    NodeStatus,
)
from enclave.platform.api import Measurement, PlatformName
from tests.enclave.governance.governance_scenario import Governed, Member, public_state

MEASUREMENT = Measurement(bytes(range(32)))


def state_of(service: Governed, proposal_id: str) -> ProposalState:
    info = read_proposal_info(service.store.begin(), proposal_id)
    assert info is not None
    return info.state


def node_status(service: Governed, node_id: str) -> str | None:
    raw = service.store.begin().get(NODES_INFO, node_id.encode())
    return None if raw is None else str(json.loads(raw)["status"])


def test_users_are_added_given_data_and_removed() -> None:
    service = Governed.create(3)
    user = Member.create(30)
    service.pass_proposal(("set_user", {"cert": user.cert_pem, "user_data": {"desk": 7}}))
    tx = service.store.begin()
    assert tx.get(USERS_CERTS, user.id.encode()) == user.cert_pem.encode()
    assert tx.get(USERS_INFO, user.id.encode()) == b'{"user_data":{"desk":7}}'

    service.pass_proposal(("set_user_data", {"user_id": user.id, "user_data": None}))
    assert service.store.begin().get(USERS_INFO, user.id.encode()) is None

    service.pass_proposal(("remove_user", {"user_id": user.id}))
    assert service.store.begin().get(USERS_CERTS, user.id.encode()) is None


def test_a_pending_node_is_trusted_by_vote() -> None:
    service = Governed.create(3)
    node_id = service.record_node(1, NodeStatus.PENDING)
    trust = ("transition_node_to_trusted", {"node_id": node_id, "valid_from": "2026-01-01T00:00:00"})
    proposal_id = service.propose(service.members[1], trust)
    service.vote(service.members[0], proposal_id)
    assert node_status(service, node_id) == "Pending"
    service.vote(service.members[2], proposal_id)
    assert node_status(service, node_id) == "Trusted"
    # Trusting it again fails: it is no longer Pending.
    assert state_of(service, service.pass_proposal(trust)) is ProposalState.FAILED


def test_removing_nodes_retires_trusted_ones_and_forgets_pending_ones() -> None:
    service = Governed.create(2)
    trusted = service.record_node(1, NodeStatus.TRUSTED)
    staying = service.record_node(3, NodeStatus.TRUSTED)
    pending = service.record_node(2, NodeStatus.PENDING)
    service.pass_proposal(("remove_node", {"node_id": trusted}), ("remove_node", {"node_id": pending}))
    assert node_status(service, trusted) == "Retired"
    assert node_status(service, staying) == "Trusted"
    assert node_status(service, pending) is None
    assert service.store.begin().get(ENDORSED_NODE_CERTIFICATES, pending.encode()) is None


def test_the_last_trusted_node_is_never_removed() -> None:
    service = Governed.create(1)
    last = service.record_node(1, NodeStatus.TRUSTED)
    proposal = service.pass_proposal(("remove_node", {"node_id": last}))
    assert state_of(service, proposal) is ProposalState.FAILED
    assert node_status(service, last) == "Trusted"


def test_adding_a_measurement_allows_it_and_removing_it_drops_open_proposals() -> None:
    service = Governed.create(3)
    alice, bob, _ = service.members
    measurement = {"platform": "vbs-sim", "measurement": MEASUREMENT.hex()}
    service.pass_proposal(("add_measurement", measurement))
    assert allowed_measurements(service.store.begin(), PlatformName.VBS_SIM) == {MEASUREMENT}
    assert allowed_measurements(service.store.begin(), PlatformName.SGX_SIM) == frozenset()

    # A proposal that counted on the measurement, open while the allow-list changes, is dropped.
    waiting = service.propose(bob, ("set_user", {"cert": Member.create(31).cert_pem}))
    service.vote(alice, waiting)
    service.pass_proposal(("remove_measurement", measurement))
    assert allowed_measurements(service.store.begin(), PlatformName.VBS_SIM) == frozenset()
    assert state_of(service, waiting) is ProposalState.DROPPED


def test_opening_the_service() -> None:
    service = Governed.create(2)
    service.pass_proposal(("transition_service_to_open", {}))
    info = json.loads(service.store.begin().get(SERVICE_INFO, SINGLETON_KEY) or b"")
    assert info["status"] == "Open"
    # Open is not re-entered.
    assert (
        state_of(service, service.pass_proposal(("transition_service_to_open", {}))) is ProposalState.FAILED
    )


def test_recovery_threshold_cannot_exceed_the_recovery_members() -> None:
    service = Governed.create(2)
    too_high = service.pass_proposal(("set_recovery_threshold", {"recovery_threshold": 1}))
    assert state_of(service, too_high) is ProposalState.FAILED
    tx = service.store.begin()
    tx.put(MEMBERS_ENCRYPTION_KEYS, service.members[0].id.encode(), b"key")
    tx.commit()
    service.pass_proposal(("set_recovery_threshold", {"recovery_threshold": 1}))
    assert recovery_threshold(service.store.begin()) == 1


def test_a_ledger_rekey_is_recorded_for_the_runtime() -> None:
    service = Governed.create(1)
    proposal_id = service.pass_proposal(("trigger_ledger_rekey", {}))
    assert service.store.begin().scan(LEDGER_REKEY_REQUESTS) == [
        (proposal_id.encode(), json.dumps({"proposal_id": proposal_id}).replace(" ", "").encode())
    ]


def test_a_proposal_whose_last_action_fails_leaves_none_of_its_writes() -> None:
    service = Governed.create(2)
    user = Member.create(32)
    proposal_id = service.propose(
        service.members[0],
        ("set_user", {"cert": user.cert_pem}),
        ("remove_node", {"node_id": "ab" * 32}),
    )
    service.vote(service.members[0], proposal_id)
    before = public_state(service.store)
    result = service.vote(service.members[1], proposal_id)
    assert isinstance(result, BallotCast) and result.state is ProposalState.FAILED
    assert result.failure is not None and "does not exist" in result.failure
    assert service.store.begin().get(USERS_CERTS, user.id.encode()) is None
    changed = {
        name for name in public_state(service.store) if public_state(service.store)[name] != before.get(name)
    }
    assert changed == {"public:ccf.gov.proposals_info", "public:ccf.gov.cose_recent_requests"}


def test_a_proposal_that_can_never_pass_is_rejected_when_submitted() -> None:
    service = Governed.create(2)
    service.pass_proposal(
        ("set_constitution", {"constitution": {"actions": {"set_user": {"type": "k_of_n", "k": 3}}}})
    )
    user = Member.create(33)
    submitted = service.send(
        service.members[0],
        {"actions": [{"name": "set_user", "args": {"cert": user.cert_pem}}]},
        GovMessageType.PROPOSAL,
    )
    assert isinstance(submitted, ProposalSubmitted) and submitted.state is ProposalState.REJECTED
