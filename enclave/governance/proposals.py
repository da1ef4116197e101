"""Proposals and ballots: CCF's payloads, the proposal id, and the records in `public:ccf.gov.proposals`
(the proposal as submitted) and `public:ccf.gov.proposals_info` (proposer, state, ballots).

Proposal id (sealchain's rule; CCF also derives it from the request and the state it was read at): hex
SHA-256 over a domain label, the KV version the submitting transaction read (8 bytes big-endian) and the
SHA-256 of the whole signed request. The replay window refuses the same request twice, so ids are unique.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType

from enclave.crypto.ids import MemberId
from enclave.governance.actions import Action, parse_action
from enclave.governance.errors import MalformedBallot, MalformedProposal
from enclave.governance.tables import PROPOSALS, PROPOSALS_INFO, KvView, json_object, to_json

ProposalId = NewType("ProposalId", str)
_PROPOSAL_ID_DOMAIN = b"sealchain.gov.proposal_id.v1\0"


class ProposalState(StrEnum):
    """CCF's proposal states."""

    OPEN = "Open"
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    WITHDRAWN = "Withdrawn"
    DROPPED = "Dropped"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class ProposalInfo:
    """A proposal's row of `proposals_info`; `ballots` maps member id to accept (True) or reject."""

    proposer_id: MemberId
    state: ProposalState
    ballots: Mapping[MemberId, bool] = field(default_factory=dict)
    failure: str | None = None

    def to_value(self) -> bytes:
        ballots = {member: "accept" if vote else "reject" for member, vote in self.ballots.items()}
        info: dict[str, object] = {
            "proposer_id": self.proposer_id,
            "state": self.state.value,
            "ballots": ballots,
        }
        if self.failure is not None:
            info["failure"] = {"reason": self.failure}
        return to_json(info)

    @classmethod
    def from_value(cls, raw: bytes, proposal_id: str) -> ProposalInfo:
        info = json_object(raw, f"proposal {proposal_id}")
        ballots = info["ballots"]
        failure = info.get("failure")
        assert isinstance(ballots, dict) and isinstance(info["proposer_id"], str)
        return cls(
            MemberId(info["proposer_id"]),
            ProposalState(str(info["state"])),
            {MemberId(member): vote == "accept" for member, vote in ballots.items()},
            str(failure["reason"]) if isinstance(failure, dict) else None,
        )


def proposal_id_for(read_version: int, request: bytes) -> ProposalId:
    digest = hashlib.sha256(request).digest()
    return ProposalId(
        hashlib.sha256(_PROPOSAL_ID_DOMAIN + read_version.to_bytes(8, "big") + digest).hexdigest()
    )


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key in a JSON object")
    return dict(pairs)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def loads_strict(payload: bytes) -> object:
    """JSON as RFC 8259 has it: UTF-8, no duplicate keys (which would make a signed payload ambiguous),
    no NaN or Infinity."""
    return json.loads(
        payload.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
    )


def parse_proposal(payload: bytes) -> tuple[tuple[str, Action], ...]:
    """CCF: `{"actions": [{"name": ..., "args": {...}}, ...]}`, at least one action."""
    try:
        proposal = loads_strict(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedProposal(f"a proposal is JSON: {exc}") from None
    if not isinstance(proposal, dict) or set(proposal) != {"actions"}:
        raise MalformedProposal('a proposal is {"actions": [...]}')
    actions = proposal["actions"]
    if not isinstance(actions, list) or not actions:
        raise MalformedProposal("'actions' is a non-empty list")
    return tuple(parse_action(entry) for entry in actions)


def parse_ballot(payload: bytes) -> bool:
    """CCF: `{"vote": "accept"}` or `{"vote": "reject"}`; True means accept."""
    try:
        ballot = loads_strict(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedBallot(f"a ballot is JSON: {exc}") from None
    if not isinstance(ballot, dict) or set(ballot) != {"vote"} or ballot["vote"] not in ("accept", "reject"):
        raise MalformedBallot('a ballot is {"vote": "accept"} or {"vote": "reject"}')
    return bool(ballot["vote"] == "accept")


def read_proposal_info(tx: KvView, proposal_id: str) -> ProposalInfo | None:
    raw = tx.get(PROPOSALS_INFO, proposal_id.encode())
    return None if raw is None else ProposalInfo.from_value(raw, proposal_id)


def read_proposal_actions(tx: KvView, proposal_id: str) -> tuple[tuple[str, Action], ...]:
    """The actions of a stored proposal (it was validated when submitted)."""
    raw = tx.get(PROPOSALS, proposal_id.encode())
    assert raw is not None, f"proposal {proposal_id} has info but no payload"
    return parse_proposal(raw)


def list_proposals(tx: KvView) -> dict[ProposalId, ProposalInfo]:
    """Every recorded proposal by id (for `gov list`)."""
    return {
        ProposalId(key.decode()): ProposalInfo.from_value(raw, key.decode())
        for key, raw in tx.scan(PROPOSALS_INFO)
    }


def write_proposal_info(tx: KvView, proposal_id: str, info: ProposalInfo) -> None:
    tx.put(PROPOSALS_INFO, proposal_id.encode(), info.to_value())
