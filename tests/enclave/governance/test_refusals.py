"""Every refused request gets a clear, specific error and changes no governance map (`Governed.refuse`
commits the transaction anyway and compares the public maps before and after)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.crypto.cose import BadSignature, GovMessageType
from enclave.governance.errors import (
    FutureRequest,
    InvalidRequest,
    MalformedBallot,
    MalformedProposal,
    MalformedShare,
    NotProposer,
    ProposalClosed,
    ReplayedRequest,
    RequestRefused,
    StaleRequest,
    UnknownMember,
    UnknownProposal,
    UnsupportedRequest,
)
from enclave.governance.handler import ProposalWithdrawn
from enclave.governance.requests import ReplayPolicy
from tests.enclave.governance.governance_scenario import Governed, Member, proposal

ADD_USER = ("set_user", {"cert": Member.create(50).cert_pem})


@pytest.fixture
def service() -> Governed:
    return Governed.create(3)


def test_a_bad_signature_is_refused(service: Governed) -> None:
    signed = bytearray(service.members[0].sign(proposal(ADD_USER), GovMessageType.PROPOSAL, service.tick()))
    signed[-1] ^= 1
    refused = service.refuse(bytes(signed))
    assert isinstance(refused, InvalidRequest) and isinstance(refused.__cause__, BadSignature)


def test_a_request_signed_by_a_stranger_is_refused(service: Governed) -> None:
    stranger = Member.create(99)
    refused = service.refuse(stranger.sign(proposal(ADD_USER), GovMessageType.PROPOSAL, service.tick()))
    assert isinstance(refused, UnknownMember)


def test_a_replayed_request_is_refused(service: Governed) -> None:
    signed = service.members[0].sign(proposal(ADD_USER), GovMessageType.PROPOSAL, service.tick())
    service.handle(signed)
    assert isinstance(service.refuse(signed), ReplayedRequest)
    service.now += 10
    assert isinstance(service.refuse(signed), ReplayedRequest)


@pytest.mark.parametrize(("offset", "error"), [(-301, StaleRequest), (61, FutureRequest)])
def test_stale_or_future_created_at_is_refused(
    service: Governed, offset: int, error: type[Exception]
) -> None:
    signed = service.members[0].sign(proposal(ADD_USER), GovMessageType.PROPOSAL, service.now + offset)
    assert isinstance(service.refuse(signed), error)


def test_a_full_replay_window_refuses_what_it_no_longer_remembers() -> None:
    service = Governed.create(1, policy=ReplayPolicy(max_age_s=1000, window=5))
    (alice,) = service.members
    old = alice.sign(proposal(ADD_USER), GovMessageType.PROPOSAL, service.now - 100)
    service.handle(old)
    for _ in range(5):
        service.propose(alice, ADD_USER)
    assert isinstance(service.refuse(old), StaleRequest)
    older = alice.sign(proposal(ADD_USER), GovMessageType.PROPOSAL, service.now - 50)
    assert isinstance(service.refuse(older), StaleRequest)


def test_a_ballot_for_a_withdrawn_or_closed_proposal_is_refused(service: Governed) -> None:
    alice, bob, carol = service.members
    withdrawn = service.propose(alice, ADD_USER)
    assert service.send(alice, b"", GovMessageType.WITHDRAWAL, withdrawn) == ProposalWithdrawn(withdrawn)
    refused = service.refuse(bob.sign({"vote": "accept"}, GovMessageType.BALLOT, service.tick(), withdrawn))
    assert isinstance(refused, ProposalClosed) and "Withdrawn" in str(refused)

    accepted = service.pass_proposal(ADD_USER)
    refused = service.refuse(carol.sign({"vote": "reject"}, GovMessageType.BALLOT, service.tick(), accepted))
    assert isinstance(refused, ProposalClosed) and "Accepted" in str(refused)

    unknown = "ab" * 32
    refused = service.refuse(carol.sign({"vote": "accept"}, GovMessageType.BALLOT, service.tick(), unknown))
    assert isinstance(refused, UnknownProposal)


def test_only_the_proposer_withdraws(service: Governed) -> None:
    alice, bob, _ = service.members
    proposal_id = service.propose(alice, ADD_USER)
    refused = service.refuse(bob.sign(b"", GovMessageType.WITHDRAWAL, service.tick(), proposal_id))
    assert isinstance(refused, NotProposer)


def test_a_ballot_signed_for_one_proposal_never_counts_for_another(service: Governed) -> None:
    alice, bob, _ = service.members
    first = service.propose(alice, ADD_USER)
    second = service.propose(alice, ADD_USER)
    ballot = bob.sign({"vote": "accept"}, GovMessageType.BALLOT, service.tick(), first)
    # Rewriting the proposal id in the header breaks the signature: it is in the protected header.
    forged = ballot.replace(first.encode(), second.encode())
    assert forged != ballot
    refused = service.refuse(forged)
    assert isinstance(refused, InvalidRequest) and isinstance(refused.__cause__, BadSignature)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"actions": []}',
        b'{"actions": [{"name": "set_user"}]}',
        b'{"actions": [], "actions": []}',
        b'{"actions": [{"name": "remove_user", "args": {"user_id": "nothex"}}]}',
        b'{"actions": [{"name": "remove_user", "args": {"user_id": "' + b"ab" * 32 + b'", "extra": 1}}]}',
        b'{"actions": [{"name": "set_member", "args": {"cert": "-----BEGIN CERTIFICATE-----"}}]}',
        b'{"actions": [{"name": "set_recovery_threshold", "args": {"recovery_threshold": 0}}]}',
        b'{"actions": [{"name": "add_measurement", "args": {"platform": "tdx", "measurement": "00"}}]}',
        b'{"actions": [{"name": "add_measurement", "args": {"platform": "sgx-sim", "measurement": "00"}}]}',
        b'{"actions": [{"name": "transition_node_to_trusted", "args": {"node_id": "'
        + b"ab" * 32
        + b'", "valid_from": "yesterday"}}]}',
        b'{"actions": [{"name": "set_user", "args": {"cert": 1, "user_data": NaN}}]}',
    ],
)
def test_malformed_action_arguments_are_refused(service: Governed, payload: bytes) -> None:
    signed = service.members[0].sign(payload, GovMessageType.PROPOSAL, service.tick())
    assert isinstance(service.refuse(signed), MalformedProposal)


def test_an_unknown_action_is_refused(service: Governed) -> None:
    signed = service.members[0].sign(
        proposal(("make_coffee", {"sugar": 2})), GovMessageType.PROPOSAL, service.tick()
    )
    refused = service.refuse(signed)
    assert isinstance(refused, MalformedProposal) and "make_coffee" in str(refused)


@pytest.mark.parametrize(
    "payload", [b"", b'{"vote": "maybe"}', b'{"vote": true}', b'{"vote": "accept", "x": 1}']
)
def test_a_malformed_ballot_is_refused(service: Governed, payload: bytes) -> None:
    proposal_id = service.propose(service.members[0], ADD_USER)
    signed = service.members[1].sign(payload, GovMessageType.BALLOT, service.tick(), proposal_id)
    assert isinstance(service.refuse(signed), MalformedBallot)


def test_a_malformed_recovery_share_and_an_encrypted_one_are_refused(service: Governed) -> None:
    """Members submit the share they decrypted themselves, as CCF's `{"share": BASE64}`."""
    garbled = service.members[0].sign(b"share", GovMessageType.RECOVERY_SHARE, service.tick())
    encrypted = service.members[0].sign(b"{}", GovMessageType.ENCRYPTED_RECOVERY_SHARE, service.tick())
    assert isinstance(service.refuse(garbled), MalformedShare)
    assert isinstance(service.refuse(encrypted), UnsupportedRequest)


def test_garbage_is_an_invalid_request(service: Governed) -> None:
    assert isinstance(service.refuse(b"\xd2\x84"), InvalidRequest)


GARBLED_SERVICE = Governed.create(2)
GARBLED_BASE = GARBLED_SERVICE.members[0].sign(
    proposal(ADD_USER), GovMessageType.PROPOSAL, GARBLED_SERVICE.now
)


@settings(max_examples=200)
@given(st.data())
def test_garbled_requests_are_refused_without_a_trace(data: st.DataObject) -> None:
    """Truncated, extended or bit-flipped requests only ever raise RequestRefused and write nothing."""
    signed = bytearray(GARBLED_BASE)
    match data.draw(st.sampled_from(["flip", "truncate", "extend"])):
        case "flip":
            index = data.draw(st.integers(0, len(signed) - 1))
            signed[index] ^= data.draw(st.integers(1, 255))
        case "truncate":
            del signed[data.draw(st.integers(0, len(signed) - 1)) :]
        case _:
            signed += data.draw(st.binary(min_size=1, max_size=8))
    assert isinstance(GARBLED_SERVICE.refuse(bytes(signed)), RequestRefused)
