"""The constitution sets each action's threshold; proposals resolve after every ballot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.crypto.cose import GovMessageType
from enclave.crypto.ids import MemberId
from enclave.governance.actions import ACTION_NAMES
from enclave.governance.constitution import (
    MAJORITY,
    Constitution,
    InvalidConstitution,
    Resolution,
    Threshold,
    ThresholdKind,
    parse_constitution,
    read_constitution,
    resolve,
)
from enclave.governance.errors import MalformedProposal
from enclave.governance.handler import BallotCast
from enclave.governance.proposals import ProposalState
from tests.enclave.governance.governance_scenario import Governed, Member, proposal

TWO_OF_THREE_FOR_USERS_ALL_FOR_MEMBERS = {
    "default": {"type": "majority"},
    "actions": {"set_user": {"type": "k_of_n", "k": 2}, "remove_member": {"type": "all"}},
}


def test_set_constitution_two_of_three_for_one_action_and_all_for_another() -> None:
    service = Governed.create(3)
    alice, bob, carol = service.members
    service.pass_proposal(("set_constitution", {"constitution": TWO_OF_THREE_FOR_USERS_ALL_FOR_MEMBERS}))
    assert read_constitution(service.store.begin(), ACTION_NAMES) == Constitution(
        MAJORITY,
        {"set_user": Threshold(ThresholdKind.K_OF_N, k=2), "remove_member": Threshold(ThresholdKind.ALL)},
    )

    add_user = service.propose(carol, ("set_user", {"cert": Member.create(40).cert_pem}))
    assert service.vote(alice, add_user) == BallotCast(add_user, ProposalState.OPEN)
    assert service.vote(bob, add_user) == BallotCast(add_user, ProposalState.ACCEPTED)

    remove = service.propose(alice, ("remove_member", {"member_id": carol.id}))
    assert service.vote(alice, remove) == BallotCast(remove, ProposalState.OPEN)
    assert service.vote(bob, remove) == BallotCast(remove, ProposalState.OPEN)
    # Carol's rejection makes "all" impossible.
    assert service.vote(carol, remove, accept=False) == BallotCast(remove, ProposalState.REJECTED)


def test_a_proposal_needs_the_strictest_threshold_of_its_actions() -> None:
    constitution = parse_constitution(TWO_OF_THREE_FOR_USERS_ALL_FOR_MEMBERS, ACTION_NAMES)
    assert constitution.required(["set_user"], 5) == 2
    assert constitution.required(["set_user", "remove_member"], 5) == 5
    assert constitution.required(["set_member"], 5) == 3


def test_a_new_constitution_drops_open_proposals() -> None:
    service = Governed.create(3)
    alice, bob, _ = service.members
    waiting = service.propose(alice, ("set_user", {"cert": Member.create(41).cert_pem}))
    service.pass_proposal(("set_constitution", {"constitution": {"default": {"type": "all"}}}))
    refused = service.refuse(bob.sign({"vote": "accept"}, GovMessageType.BALLOT, service.tick(), waiting))
    assert "Dropped" in str(refused)


def test_re_voting_replaces_the_members_ballot() -> None:
    service = Governed.create(3)
    alice, bob, _ = service.members
    proposal_id = service.propose(alice, ("set_user", {"cert": Member.create(42).cert_pem}))
    assert service.vote(alice, proposal_id, accept=False) == BallotCast(proposal_id, ProposalState.OPEN)
    # Alice changes her mind; voting twice does not count twice.
    assert service.vote(alice, proposal_id) == BallotCast(proposal_id, ProposalState.OPEN)
    assert service.vote(alice, proposal_id) == BallotCast(proposal_id, ProposalState.OPEN)
    assert service.vote(bob, proposal_id) == BallotCast(proposal_id, ProposalState.ACCEPTED)


@pytest.mark.parametrize(
    ("threshold", "active", "required"),
    [
        (Threshold(ThresholdKind.MAJORITY), 3, 2),
        (Threshold(ThresholdKind.MAJORITY), 4, 3),
        (Threshold(ThresholdKind.ALL), 3, 3),
        (Threshold(ThresholdKind.K_OF_N, k=2), 3, 2),
        (Threshold(ThresholdKind.FRACTION, numerator=2, denominator=3), 3, 2),
        (Threshold(ThresholdKind.FRACTION, numerator=2, denominator=3), 4, 3),
        (Threshold(ThresholdKind.MAJORITY), 0, 1),
    ],
)
def test_thresholds(threshold: Threshold, active: int, required: int) -> None:
    assert threshold.required(active) == required


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"default": {"type": "most"}},
        {"default": {"type": "k_of_n"}},
        {"default": {"type": "k_of_n", "k": 0}},
        {"default": {"type": "fraction", "numerator": 3, "denominator": 2}},
        {"default": {"type": "all", "k": 1}},
        {"actions": {"make_coffee": {"type": "all"}}},
        {"actions": []},
        {"rules": {}},
    ],
)
def test_malformed_constitutions_are_refused(bad: object) -> None:
    with pytest.raises(InvalidConstitution):
        parse_constitution(bad, ACTION_NAMES)
    service = Governed.create(1)
    signed = service.members[0].sign(
        proposal(("set_constitution", {"constitution": bad})), GovMessageType.PROPOSAL, service.tick()
    )
    assert isinstance(service.refuse(signed), MalformedProposal)


thresholds = st.one_of(
    st.just(Threshold(ThresholdKind.MAJORITY)),
    st.just(Threshold(ThresholdKind.ALL)),
    st.integers(1, 9).map(lambda k: Threshold(ThresholdKind.K_OF_N, k=k)),
    st.tuples(st.integers(1, 9), st.integers(1, 9)).map(
        lambda f: Threshold(ThresholdKind.FRACTION, numerator=min(f), denominator=max(f))
    ),
)


@given(thresholds, st.lists(st.sampled_from([None, True, False]), min_size=1, max_size=9))
def test_resolution_accepts_exactly_at_the_threshold_and_rejects_only_when_it_is_out_of_reach(
    threshold: Threshold, votes: list[bool | None]
) -> None:
    active = frozenset(MemberId(f"m{i}") for i in range(len(votes)))
    ballots = {MemberId(f"m{i}"): vote for i, vote in enumerate(votes) if vote is not None}
    required = threshold.required(len(active))
    accepts = sum(1 for v in ballots.values() if v)
    undecided = len(active) - len(ballots)
    outcome = resolve(required, active, ballots)
    assert (outcome is Resolution.ACCEPTED) == (accepts >= required)
    assert (outcome is Resolution.REJECTED) == (accepts < required and accepts + undecided < required)
    # Ballots of members who are not Active count for nothing.
    assert resolve(required, active, {**ballots, MemberId("outsider"): True}) is outcome
