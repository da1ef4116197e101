"""The governance entry point: one signed request in, its writes in the caller's transaction, a result out.

Order (CCF's validate, resolve, apply): authenticate and check freshness (`requests`), validate the payload
and check it against the state (reads only), and only then write: the request into the replay window,
the proposal or ballot, and, when a ballot decides a proposal, its actions (`apply.enact`). A refused
request raises a `RequestRefused` before the first write, so the caller may even commit the transaction.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import assert_never

from enclave.crypto.cose import GovMessageType
from enclave.crypto.ids import MemberId
from enclave.governance import activation
from enclave.governance.actions import ACTION_NAMES
from enclave.governance.apply import ActionFailed, enact
from enclave.governance.constitution import Resolution, read_constitution, resolve
from enclave.governance.errors import (
    MalformedShare,
    MemberAlreadyActive,
    NotProposer,
    ProposalClosed,
    UnknownProposal,
    UnsupportedRequest,
)
from enclave.governance.proposals import (
    ProposalId,
    ProposalInfo,
    ProposalState,
    list_proposals,
    loads_strict,
    parse_ballot,
    parse_proposal,
    proposal_id_for,
    read_proposal_actions,
    read_proposal_info,
    write_proposal_info,
)
from enclave.governance.requests import AuthenticatedRequest, ReplayPolicy, authenticate, remember
from enclave.governance.tables import PROPOSALS, KvView, MemberStatus, active_member_ids
from enclave.kv.transaction import Transaction


@dataclass(frozen=True, slots=True)
class ProposalSubmitted:
    proposal_id: ProposalId
    state: ProposalState


@dataclass(frozen=True, slots=True)
class BallotCast:
    """The ballot counted; `state` is the proposal's state after resolution (and enactment)."""

    proposal_id: ProposalId
    state: ProposalState
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class ProposalWithdrawn:
    proposal_id: ProposalId


@dataclass(frozen=True, slots=True)
class StateDigestIssued:
    member_id: MemberId
    state_digest: str


@dataclass(frozen=True, slots=True)
class MemberActivated:
    member_id: MemberId


@dataclass(frozen=True, slots=True)
class ShareSubmitted:
    """A member's decrypted recovery share (CCF: `{"share": BASE64}`); what it restores is the caller's
    business (enclave/runtime/private_recovery.py), in the same transaction."""

    member_id: MemberId
    share: bytes


GovernanceResult = (
    ProposalSubmitted | BallotCast | ProposalWithdrawn | StateDigestIssued | MemberActivated | ShareSubmitted
)


DEFAULT_POLICY = ReplayPolicy()


def handle_request(
    tx: Transaction, signed: bytes, now_s: int, policy: ReplayPolicy = DEFAULT_POLICY
) -> GovernanceResult:
    """Act on one COSE Sign1 governance request at Unix time `now_s` (the primary's clock)."""
    accepted = authenticate(tx, signed, now_s, policy)
    request = accepted.request
    result: GovernanceResult
    match request.msg_type:
        case GovMessageType.PROPOSAL:
            result = _submit(tx, accepted, signed)
        case GovMessageType.BALLOT:
            result = _vote(tx, accepted)
        case GovMessageType.WITHDRAWAL:
            result = _withdraw(tx, accepted)
        case GovMessageType.STATE_DIGEST:
            result = StateDigestIssued(
                accepted.member_id, activation.issue_state_digest(tx, accepted.member_id)
            )
        case GovMessageType.ACK:
            result = _ack(tx, accepted)
        case GovMessageType.RECOVERY_SHARE:
            result = ShareSubmitted(accepted.member_id, parse_share(accepted.request.payload))
        case GovMessageType.ENCRYPTED_RECOVERY_SHARE:
            raise UnsupportedRequest("encrypted recovery shares are not taken: decrypt yours and submit it")
        case _:
            assert_never(request.msg_type)
    remember(tx, accepted, now_s, policy)
    return result


def _submit(tx: Transaction, accepted: AuthenticatedRequest, signed: bytes) -> ProposalSubmitted:
    """CCF: the proposer does not vote implicitly; a proposal that can never pass is Rejected at once."""
    actions = parse_proposal(accepted.request.payload)
    proposal_id = proposal_id_for(tx.snapshot_version, signed)
    tx.put(PROPOSALS, proposal_id.encode(), accepted.request.payload)
    proposed = ProposalInfo(accepted.member_id, ProposalState.OPEN)
    info = _resolved(tx, proposed, [name for name, _ in actions])
    write_proposal_info(tx, proposal_id, info)
    return ProposalSubmitted(proposal_id, info.state)


def _open_proposal(tx: KvView, proposal_id: str | None) -> tuple[ProposalId, ProposalInfo]:
    assert proposal_id is not None, "cose.parse_request requires a proposal id on ballots and withdrawals"
    info = read_proposal_info(tx, proposal_id)
    if info is None:
        raise UnknownProposal(f"no proposal {proposal_id}")
    if info.state is not ProposalState.OPEN:
        raise ProposalClosed(f"proposal {proposal_id} is {info.state.value}")
    return ProposalId(proposal_id), info


def _vote(tx: Transaction, accepted: AuthenticatedRequest) -> BallotCast:
    """CCF: a member's new ballot replaces its earlier one; resolution runs after every ballot. The
    proposal id is in the signed header, so a ballot never counts for another proposal."""
    proposal_id, info = _open_proposal(tx, accepted.request.proposal_id)
    vote = parse_ballot(accepted.request.payload)
    actions = read_proposal_actions(tx, proposal_id)
    voted = replace(info, ballots={**info.ballots, accepted.member_id: vote})
    resolved = _resolved(tx, voted, [name for name, _ in actions])
    if resolved.state is ProposalState.ACCEPTED:
        try:
            invalidating = enact(tx, tuple(action for _, action in actions), proposal_id)
        except ActionFailed as failed:
            resolved = replace(resolved, state=ProposalState.FAILED, failure=str(failed))
        else:
            if invalidating:
                _drop_open_proposals(tx, except_id=proposal_id)
    write_proposal_info(tx, proposal_id, resolved)
    return BallotCast(proposal_id, resolved.state, resolved.failure)


def _resolved(tx: KvView, info: ProposalInfo, action_names: list[str]) -> ProposalInfo:
    active = active_member_ids(tx)
    required = read_constitution(tx, ACTION_NAMES).required(action_names, len(active))
    match resolve(required, active, info.ballots):
        case Resolution.OPEN:
            return info
        case Resolution.ACCEPTED:
            return replace(info, state=ProposalState.ACCEPTED)
        case Resolution.REJECTED:
            return replace(info, state=ProposalState.REJECTED)
        case unknown:
            assert_never(unknown)


def _drop_open_proposals(tx: KvView, except_id: str) -> None:
    """Ballots cast under other members, another constitution or another allow-list no longer count."""
    for proposal_id, info in list_proposals(tx).items():
        if info.state is ProposalState.OPEN and proposal_id != except_id:
            write_proposal_info(tx, proposal_id, replace(info, state=ProposalState.DROPPED))


def _withdraw(tx: Transaction, accepted: AuthenticatedRequest) -> ProposalWithdrawn:
    proposal_id, info = _open_proposal(tx, accepted.request.proposal_id)
    if info.proposer_id != accepted.member_id:
        raise NotProposer(f"only its proposer withdraws proposal {proposal_id}")
    write_proposal_info(tx, proposal_id, replace(info, state=ProposalState.WITHDRAWN))
    return ProposalWithdrawn(proposal_id)


def parse_share(payload: bytes) -> bytes:
    """CCF's `{"share": BASE64}`."""
    try:
        document = loads_strict(payload)
        if (
            not isinstance(document, dict)
            or set(document) != {"share"}
            or not isinstance(document["share"], str)
        ):
            raise ValueError('a share is {"share": BASE64}')
        return base64.b64decode(document["share"], validate=True)
    except (ValueError, RecursionError) as exc:
        raise MalformedShare(f"not a recovery share: {exc}") from None


def _ack(tx: Transaction, accepted: AuthenticatedRequest) -> MemberActivated:
    if accepted.member_status is not MemberStatus.ACCEPTED:
        raise MemberAlreadyActive(f"member {accepted.member_id} is {accepted.member_status.value} already")
    activation.check_ack(tx, accepted.member_id, activation.parse_ack(accepted.request.payload))
    activation.activate(tx, accepted.member_id)
    return MemberActivated(accepted.member_id)
