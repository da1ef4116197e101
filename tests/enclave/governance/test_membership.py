"""Members govern: admitted by vote, Active after acking the state digest, gone when removed."""

from __future__ import annotations

import pytest

from enclave.crypto.cose import GovMessageType
from enclave.governance.actions import ACTION_NAMES
from enclave.governance.constitution import read_constitution
from enclave.governance.errors import MemberAlreadyActive, MemberNotActive, StateDigestMismatch, UnknownMember
from enclave.governance.handler import BallotCast, MemberActivated, StateDigestIssued
from enclave.governance.proposals import ProposalState, read_proposal_info
from enclave.governance.tables import MemberStatus, active_member_ids, member_status
from tests.enclave.governance.governance_scenario import Governed, Member


def required_for(service: Governed, action: str) -> int:
    tx = service.store.begin()
    return read_constitution(tx, ACTION_NAMES).required([action], len(active_member_ids(tx)))


def test_a_fourth_member_is_admitted_by_vote_acks_and_then_counts_in_the_majority() -> None:
    service = Governed.create(3)
    alice, bob, carol = service.members
    dave = Member.create(10)
    assert required_for(service, "set_user") == 2

    proposal_id = service.propose(
        alice, ("set_member", {"cert": dave.cert_pem, "member_data": {"role": "ops"}})
    )
    assert service.vote(alice, proposal_id) == BallotCast(proposal_id, ProposalState.OPEN)
    assert service.vote(bob, proposal_id) == BallotCast(proposal_id, ProposalState.ACCEPTED)
    assert member_status(service.store.begin(), dave.id) is MemberStatus.ACCEPTED

    # Accepted is not Active: dave may not propose yet, and does not count.
    refused = service.refuse(dave.sign({"actions": []}, GovMessageType.PROPOSAL, service.tick()))
    assert isinstance(refused, MemberNotActive)
    assert required_for(service, "set_user") == 2

    issued = service.send(dave, b"", GovMessageType.STATE_DIGEST)
    assert isinstance(issued, StateDigestIssued)
    acked = service.send(dave, {"state_digest": issued.state_digest}, GovMessageType.ACK)
    assert acked == MemberActivated(dave.id)
    assert active_member_ids(service.store.begin()) == {m.id for m in (alice, bob, carol, dave)}
    assert required_for(service, "set_user") == 3

    # With four Active members, two acceptances are no longer a majority.
    user = Member.create(20)
    proposal_id = service.propose(dave, ("set_user", {"cert": user.cert_pem}))
    service.vote(alice, proposal_id)
    assert service.vote(dave, proposal_id) == BallotCast(proposal_id, ProposalState.OPEN)
    assert service.vote(carol, proposal_id) == BallotCast(proposal_id, ProposalState.ACCEPTED)


def test_an_ack_must_name_the_digest_issued_to_the_member() -> None:
    service = Governed.create(3)
    dave = Member.create(10)
    service.pass_proposal(("set_member", {"cert": dave.cert_pem}))

    never_issued = dave.sign({"state_digest": "00" * 32}, GovMessageType.ACK, service.tick())
    assert isinstance(service.refuse(never_issued), StateDigestMismatch)
    service.send(dave, b"", GovMessageType.STATE_DIGEST)
    wrong = dave.sign({"state_digest": "00" * 32}, GovMessageType.ACK, service.tick())
    assert isinstance(service.refuse(wrong), StateDigestMismatch)
    assert member_status(service.store.begin(), dave.id) is MemberStatus.ACCEPTED


def test_an_active_member_cannot_ack_again() -> None:
    service = Governed.create(1)
    (alice,) = service.members
    issued = service.send(alice, b"", GovMessageType.STATE_DIGEST)
    assert isinstance(issued, StateDigestIssued)
    again = alice.sign({"state_digest": issued.state_digest}, GovMessageType.ACK, service.tick())
    assert isinstance(service.refuse(again), MemberAlreadyActive)


def test_a_removed_member_is_refused_afterwards() -> None:
    service = Governed.create(3)
    carol = service.members[2]
    proposal_id = service.pass_proposal(("remove_member", {"member_id": carol.id}))
    info = read_proposal_info(service.store.begin(), proposal_id)
    assert info is not None and info.state is ProposalState.ACCEPTED
    assert member_status(service.store.begin(), carol.id) is None

    refused = service.refuse(carol.sign({"actions": []}, GovMessageType.PROPOSAL, service.tick()))
    assert isinstance(refused, UnknownMember)
    # Two Active members now: a majority is both of them.
    assert required_for(service, "set_user") == 2


def test_the_last_active_member_cannot_be_removed() -> None:
    service = Governed.create(1)
    (alice,) = service.members
    proposal_id = service.pass_proposal(("remove_member", {"member_id": alice.id}))
    info = read_proposal_info(service.store.begin(), proposal_id)
    assert info is not None and info.state is ProposalState.FAILED
    assert info.failure is not None and "last Active member" in info.failure
    assert member_status(service.store.begin(), alice.id) is MemberStatus.ACTIVE


def test_member_data_is_set_and_status_kept() -> None:
    service = Governed.create(2)
    alice, _ = service.members
    service.pass_proposal(("set_member_data", {"member_id": alice.id, "member_data": {"team": "x"}}))
    tx = service.store.begin()
    assert member_status(tx, alice.id) is MemberStatus.ACTIVE
    assert tx.get("public:ccf.gov.members.info", alice.id.encode()) == (
        b'{"member_data":{"team":"x"},"status":"Active"}'
    )


@pytest.mark.parametrize("count", [1, 2, 5])
def test_genesis_members_become_active_by_acking(count: int) -> None:
    service = Governed.create(count)
    assert active_member_ids(service.store.begin()) == {m.id for m in service.members}


def test_admitting_a_member_drops_open_proposals() -> None:
    service = Governed.create(3)
    alice, bob, _ = service.members
    waiting = service.propose(bob, ("set_user", {"cert": Member.create(21).cert_pem}))
    service.vote(alice, waiting)
    service.pass_proposal(("set_member", {"cert": Member.create(11).cert_pem}))
    info = read_proposal_info(service.store.begin(), waiting)
    assert info is not None and info.state is ProposalState.DROPPED
