"""Why a governance request is refused. A refused request changes nothing (the handler raises before its
first write); a proposal whose actions fail to apply is not refused: it ends Failed (see `apply.py`)."""

from __future__ import annotations


class RequestRefused(ValueError):
    """A governance request from a member (or anyone) that is not acted on."""


class InvalidRequest(RequestRefused):
    """Not an acceptable COSE Sign1 request; `__cause__` is the specific `enclave.crypto.cose.CoseError`."""


class UnknownMember(RequestRefused):
    """The `kid` names no member (never set, or removed)."""


class MemberNotActive(RequestRefused):
    """An Accepted member may only fetch the state digest and ack it; everything else needs Active."""


class MemberAlreadyActive(RequestRefused):
    """An ack from a member that is Active already."""


class StaleRequest(RequestRefused):
    """`created_at` is older than the accepted age, or older than the full replay window."""


class FutureRequest(RequestRefused):
    """`created_at` is further in the future than the accepted clock skew."""


class ReplayedRequest(RequestRefused):
    """The same signed request was already accepted."""


class MalformedProposal(RequestRefused):
    """The proposal is not CCF's `{"actions": [...]}`, names an unknown action, or has bad arguments."""


class MalformedBallot(RequestRefused):
    """The ballot is not `{"vote": "accept"}` or `{"vote": "reject"}`."""


class MalformedAck(RequestRefused):
    """The ack is not `{"state_digest": HEX}`."""


class UnknownProposal(RequestRefused):
    """The proposal id of a ballot or withdrawal names no proposal."""


class ProposalClosed(RequestRefused):
    """A ballot or withdrawal for a proposal that is no longer Open."""


class NotProposer(RequestRefused):
    """Only the proposer withdraws a proposal."""


class StateDigestMismatch(RequestRefused):
    """An ack of a state digest other than the one last issued to the member (or none was issued)."""


class MalformedShare(RequestRefused):
    """A recovery share that is not `{"share": BASE64}` of a share of this member's."""


class NotRecovering(RequestRefused):
    """A recovery share while the service is not waiting for them."""


class UnsupportedRequest(RequestRefused):
    """A CCF message type sealchain does not handle here (recovery shares)."""
