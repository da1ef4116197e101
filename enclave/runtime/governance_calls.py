"""Governance as the runtime serves it: a member's signed request executed in a KV transaction on the
primary (`enclave.governance.handler`), its refusals as error codes, and the governance tables as the JSON
that `sealchain gov` shows (shapes in docs/governance.md). Pure functions of a transaction.
"""

from __future__ import annotations

import json
from typing import assert_never

from cryptography import x509

from enclave.crypto.ids import member_id_of, user_id_of
from enclave.governance import errors as gov_errors
from enclave.governance import handler
from enclave.governance.actions import ACTION_NAMES
from enclave.governance.constitution import read_constitution, resolve
from enclave.governance.proposals import ProposalInfo, list_proposals, read_proposal_info
from enclave.governance.tables import (
    MEASUREMENT_MAPS,
    MEMBERS_CERTS,
    MEMBERS_ENCRYPTION_KEYS,
    MEMBERS_INFO,
    PROPOSALS,
    USERS_CERTS,
    USERS_INFO,
    KvView,
    active_member_ids,
    allowed_measurements,
    json_object,
    read_json_object,
    recovery_threshold,
)
from enclave.kv.transaction import Transaction
from enclave.ledger.tables import SERVICE_INFO, SINGLETON_KEY
from enclave.runtime import messages as m
from enclave.runtime.client_calls import CallRefused
from enclave.runtime.private_recovery import RecoveryContext, accept_share
from enclave.runtime.recovery_shares import RECOVERY_SHARES
from enclave.runtime.service_maps import read_nodes

# The most specific class first: `refusal_code` walks this in order.
_REFUSAL_CODES: tuple[tuple[type[gov_errors.RequestRefused], m.ErrorCode], ...] = (
    (gov_errors.UnknownMember, m.ErrorCode.UNKNOWN_MEMBER),
    (gov_errors.MemberNotActive, m.ErrorCode.FORBIDDEN),
    (gov_errors.NotProposer, m.ErrorCode.FORBIDDEN),
    (gov_errors.StaleRequest, m.ErrorCode.STALE_REQUEST),
    (gov_errors.FutureRequest, m.ErrorCode.STALE_REQUEST),
    (gov_errors.ReplayedRequest, m.ErrorCode.REPLAYED_REQUEST),
    (gov_errors.UnknownProposal, m.ErrorCode.UNKNOWN_PROPOSAL),
    (gov_errors.ProposalClosed, m.ErrorCode.PROPOSAL_CLOSED),
    (gov_errors.UnsupportedRequest, m.ErrorCode.UNSUPPORTED),
    (gov_errors.MemberAlreadyActive, m.ErrorCode.WRONG_STATE),
    (gov_errors.StateDigestMismatch, m.ErrorCode.WRONG_STATE),
)


def refusal_error(refused: gov_errors.RequestRefused) -> m.CallError:
    """A refused request's answer: the code, and the refusal's kind and reason in the message."""
    code = next(
        (code for kind, code in _REFUSAL_CODES if isinstance(refused, kind)), m.ErrorCode.INVALID_ARGUMENT
    )
    cause = f" ({refused.__cause__})" if refused.__cause__ is not None else ""
    return m.CallError(code, f"{type(refused).__name__}: {refused}{cause}")


def submit(
    tx: Transaction, signed: bytes, now_s: int, recovery: RecoveryContext
) -> tuple[str | None, str | None, str]:
    """Act on one signed request in `tx` (raises `RequestRefused` having written nothing); what it did as
    (proposal id, proposal state, JSON body) for `GovernanceResult`. `recovery`: for recovery shares."""
    result = handler.handle_request(tx, signed, now_s)
    match result:
        case handler.ProposalSubmitted(proposal_id, state):
            return proposal_id, state.value, "{}"
        case handler.BallotCast(proposal_id, state, failure):
            body = {} if failure is None else {"failure": failure}
            return proposal_id, state.value, json.dumps(body)
        case handler.ProposalWithdrawn(proposal_id):
            return proposal_id, "Withdrawn", "{}"
        case handler.StateDigestIssued(_, state_digest):
            return None, None, json.dumps({"state_digest": state_digest})
        case handler.MemberActivated(member_id):
            return None, None, json.dumps({"member_id": member_id, "status": "Active"})
        case handler.ShareSubmitted(member_id, share):
            return None, None, json.dumps(accept_share(tx, member_id, share, recovery))
        case _:
            assert_never(result)


def read_table(tx: Transaction, call: m.GovRead) -> object:
    """The table `call` names, as JSON-ready values; `CallRefused` for an unknown proposal."""
    match call.table:
        case m.GovTable.MEMBERS:
            return _members(tx)
        case m.GovTable.USERS:
            return _users(tx)
        case m.GovTable.NODES:
            return [
                {
                    "node_id": node.node_id,
                    "status": node.status.value,
                    "peer_address": node.peer_address,
                    "client_address": node.client_address,
                }
                for node in read_nodes(tx)
            ]
        case m.GovTable.SERVICE:
            service = read_json_object(tx, SERVICE_INFO, SINGLETON_KEY) or {}
            return {
                "status": service.get("status"),
                "recovery_threshold": recovery_threshold(tx),
                "cert": service.get("cert"),
            }
        case m.GovTable.CONSTITUTION:
            return read_constitution(tx, ACTION_NAMES).to_json()
        case m.GovTable.MEASUREMENTS:
            return {
                platform.value: sorted(allowed.hex() for allowed in allowed_measurements(tx, platform))
                for platform in MEASUREMENT_MAPS
            }
        case m.GovTable.RECOVERY_SHARES:
            raw = tx.get(RECOVERY_SHARES, SINGLETON_KEY)
            return None if raw is None else json.loads(raw)
        case m.GovTable.PROPOSALS:
            if call.key:
                info = read_proposal_info(tx, call.key)
                if info is None:
                    raise CallRefused(m.ErrorCode.UNKNOWN_PROPOSAL, f"no proposal {call.key}")
                return _proposal(tx, call.key, info)
            return [_proposal(tx, proposal_id, info) for proposal_id, info in list_proposals(tx).items()]
        case _:
            assert_never(call.table)


def _members(tx: KvView) -> list[dict[str, object]]:
    rows = []
    for key, cert_pem in tx.scan(MEMBERS_CERTS):
        info = read_json_object(tx, MEMBERS_INFO, key) or {}
        rows.append(
            {
                "member_id": key.decode(),
                "status": info.get("status"),
                "member_data": info.get("member_data"),
                "cert": cert_pem.decode(),
                "recovery_member": tx.get(MEMBERS_ENCRYPTION_KEYS, key) is not None,
            }
        )
    return rows


def _users(tx: KvView) -> list[dict[str, object]]:
    rows = []
    for key, cert_pem in tx.scan(USERS_CERTS):
        info = read_json_object(tx, USERS_INFO, key) or {}
        rows.append({"user_id": key.decode(), "user_data": info.get("user_data"), "cert": cert_pem.decode()})
    return rows


def _proposal(tx: KvView, proposal_id: str, info: ProposalInfo) -> dict[str, object]:
    """A proposal with its tally as resolution sees it now (ballots of Active members count)."""
    raw = tx.get(PROPOSALS, proposal_id.encode())
    assert raw is not None, f"proposal {proposal_id} has info but no payload"
    actions = json_object(raw, f"proposal {proposal_id}")["actions"]
    assert isinstance(actions, list)
    active = active_member_ids(tx)
    names = [str(action["name"]) for action in actions if isinstance(action, dict)]
    required = read_constitution(tx, ACTION_NAMES).required(names, len(active))
    counted = {member: vote for member, vote in info.ballots.items() if member in active}
    return {
        "proposal_id": proposal_id,
        "proposer_id": info.proposer_id,
        "state": info.state.value,
        "actions": actions,
        "ballots": {member: "accept" if vote else "reject" for member, vote in sorted(info.ballots.items())},
        "failure": info.failure,
        "tally": {
            "accept": sum(counted.values()),
            "reject": len(counted) - sum(counted.values()),
            "required": required,
            "active_members": len(active),
            "resolution": resolve(required, active, info.ballots).value,
        },
    }


def authorise_reader(tx: KvView, caller_cert_der: bytes) -> None:
    """Members and users may read governance (the TLS caller's certificate must be one of theirs)."""
    try:
        cert = x509.load_der_x509_certificate(caller_cert_der)
    except ValueError:
        raise CallRefused(m.ErrorCode.NOT_A_USER, "the caller's certificate does not parse") from None
    if (
        tx.get(MEMBERS_CERTS, member_id_of(cert).encode()) is None
        and tx.get(USERS_CERTS, user_id_of(cert).encode()) is None
    ):
        raise CallRefused(m.ErrorCode.NOT_A_USER, "the caller is neither a member nor a user of this service")
