"""The runtime's errors. Two families (h11): the host, a peer or a client sent something wrong (a
`RejectedInput`: reported as an effect, nothing changes), or the runtime broke its own invariant (an
`AssertionError`: crash loudly)."""

from __future__ import annotations


class RejectedInput(Exception):
    """An input the enclave refuses; it is reported (a `Log` or an error answer) and changes nothing."""


class WrongLifecycleState(RejectedInput):
    """An input that does not fit the node's lifecycle state (a second StartNetwork, a Tick before start)."""


class InvalidSettings(RejectedInput):
    """Consensus settings no node could run with (the host's config reader refuses them first)."""


class MalformedSecrets(RejectedInput):
    """Sealed secrets that unseal but do not hold what this code seals."""


class PeerRejected(RejectedInput):
    """A peer frame refused: unknown sender, malformed payload, or a channel error."""


class MalformedPeerPayload(PeerRejected):
    """A channel payload that is not a well-formed peer message of this version."""


class JoinRefused(RejectedInput):
    """A join request the service refuses, or a join response the joiner refuses (named in the message)."""


class MalformedJoinMessage(JoinRefused):
    """A join request or response that is not well formed."""


class ReplayedLedgerInvalid(RejectedInput):
    """Ledger entries given at restart that do not form this service's ledger."""
