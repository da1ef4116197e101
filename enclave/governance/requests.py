"""Resolve (read-only): who signed a governance request, whether they may, and whether it is fresh.

- Authentication (CCF): the COSE `kid` names a member's certificate in `public:ccf.gov.members.certs`;
  the signature must verify with it. Only Active members govern; an Accepted member may only fetch the
  state digest and ack it. A removed member's certificate is gone, so it is an unknown member.
- Freshness: `created_at` (signed) must lie within `[now - max_age_s, now + max_skew_s]`.
- Replay (CCF keeps a window of recent proposals; sealchain of every request): the SHA-256 of each
  accepted request is kept in `public:ccf.gov.cose_recent_requests`, keyed by `created_at` then digest,
  until it is older than `max_age_s` (then freshness refuses it anyway). At most `window` are kept; when
  full, the oldest goes, and a request not newer than the oldest kept is refused as stale, so nothing
  that left the window can come back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509

from enclave.crypto.cose import CoseError, CoseRequest, GovMessageType, parse_request, verify_request
from enclave.crypto.ids import MemberId
from enclave.governance.errors import (
    FutureRequest,
    InvalidRequest,
    MemberNotActive,
    ReplayedRequest,
    StaleRequest,
    UnknownMember,
)
from enclave.governance.tables import RECENT_REQUESTS, KvView, MemberStatus, member_cert_pem, member_status

# What an Accepted (not yet Active) member may send: CCF's member activation.
_ACTIVATION_TYPES = frozenset({GovMessageType.STATE_DIGEST, GovMessageType.ACK})
_CREATED_AT_DIGITS = 12


@dataclass(frozen=True, slots=True)
class ReplayPolicy:
    """How fresh a request must be, in seconds, and how many recent requests are remembered."""

    max_age_s: int = 300
    max_skew_s: int = 60
    window: int = 1000

    def __post_init__(self) -> None:
        if self.max_age_s < 0 or self.max_skew_s < 0 or self.window < 1:
            raise ValueError(f"bad replay policy {self}")


@dataclass(frozen=True, slots=True)
class AuthenticatedRequest:
    member_id: MemberId
    member_status: MemberStatus
    request: CoseRequest
    # The key it is remembered under in the replay window (created_at, then SHA-256 of the bytes).
    replay_key: bytes


def authenticate(tx: KvView, data: bytes, now_s: int, policy: ReplayPolicy) -> AuthenticatedRequest:
    """Parse, authenticate and check the freshness of a request; reads only."""
    try:
        request = parse_request(data)
    except CoseError as exc:
        raise InvalidRequest(f"not a valid governance request: {exc}") from exc
    cert_pem = member_cert_pem(tx, request.kid)
    status = member_status(tx, request.kid)
    if cert_pem is None or status is None:
        raise UnknownMember(f"no member {request.kid}")
    try:
        verify_request(request, x509.load_pem_x509_certificate(cert_pem))
    except CoseError as exc:
        raise InvalidRequest(f"request of member {request.kid}: {exc}") from exc
    if status is not MemberStatus.ACTIVE and request.msg_type not in _ACTIVATION_TYPES:
        raise MemberNotActive(f"member {request.kid} is {status.value}: only its ack is accepted")
    replay_key = _replay_key(request.created_at, data)
    _check_fresh(tx, request.created_at, replay_key, now_s, policy)
    return AuthenticatedRequest(MemberId(request.kid), status, request, replay_key)


def _replay_key(created_at: int, data: bytes) -> bytes:
    return f"{created_at:0{_CREATED_AT_DIGITS}d}:{hashlib.sha256(data).hexdigest()}".encode()


def _created_at_of(replay_key: bytes) -> int:
    return int(replay_key[:_CREATED_AT_DIGITS])


def _check_fresh(tx: KvView, created_at: int, replay_key: bytes, now_s: int, policy: ReplayPolicy) -> None:
    if created_at < now_s - policy.max_age_s:
        raise StaleRequest(f"created at {created_at}, more than {policy.max_age_s}s before {now_s}")
    if created_at > now_s + policy.max_skew_s:
        raise FutureRequest(f"created at {created_at}, more than {policy.max_skew_s}s after {now_s}")
    if created_at >= 10**_CREATED_AT_DIGITS:
        raise FutureRequest(f"created at {created_at}: beyond any clock")
    if tx.get(RECENT_REQUESTS, replay_key) is not None:
        raise ReplayedRequest("this request was already accepted")
    recent = _live_requests(tx, now_s, policy)
    if len(recent) >= policy.window and created_at <= _created_at_of(recent[0]):
        raise StaleRequest(f"created at {created_at}, not newer than the full replay window")


def _live_requests(tx: KvView, now_s: int, policy: ReplayPolicy) -> list[bytes]:
    """The remembered requests freshness does not already refuse, oldest first."""
    return [key for key, _ in tx.scan(RECENT_REQUESTS) if _created_at_of(key) >= now_s - policy.max_age_s]


def remember(tx: KvView, accepted: AuthenticatedRequest, now_s: int, policy: ReplayPolicy) -> None:
    """Record an accepted request and forget what no longer needs remembering."""
    kept = []
    for key, _ in tx.scan(RECENT_REQUESTS):
        if _created_at_of(key) < now_s - policy.max_age_s:
            tx.remove(RECENT_REQUESTS, key)
        else:
            kept.append(key)
    # `authenticate` made sure the new request is newer than what is evicted here.
    for key in kept[: max(len(kept) + 1 - policy.window, 0)]:
        tx.remove(RECENT_REQUESTS, key)
    tx.put(RECENT_REQUESTS, accepted.replay_key, b"{}")
