"""Why a node-to-node channel rejected bytes from its peer: one exception type per reason.

Two families (STYLE.md, h11): bytes that came from outside (a peer, or the untrusted host and network in
between) get a `ChannelError` subclass that names what was wrong, and the channel is left exactly as it was,
so the next good frame is still accepted; our own misuse of the API (sealing before a session exists) is a
`ChannelUsageError`.
"""

from __future__ import annotations


class ChannelError(Exception):
    """Base of every rejection of a frame received from the peer."""


class MalformedFrame(ChannelError):
    """Truncated, garbage, unknown frame kind, bad field lengths or trailing bytes: not a frame."""


class UnsupportedVersion(ChannelError):
    """The frame declares a channel protocol version this code does not know."""


class HandshakeRejected(ChannelError):
    """A key exchange frame that must not yield a session."""


class CertificateNotEndorsed(HandshakeRejected):
    """The peer's node certificate is not endorsed by this service's certificate (another service)."""


class UnexpectedPeer(HandshakeRejected):
    """The handshake is from, or for, another node than this channel's two ends (impersonation)."""


class BadHandshakeSignature(HandshakeRejected):
    """The transcript signature does not verify with the key of the peer's certificate."""


class UnexpectedHandshake(HandshakeRejected):
    """A response or finish frame while no handshake of ours is waiting for it."""


class StaleHandshake(UnexpectedHandshake):
    """A response or finish that answers another handshake than the one in progress (a recorded replay)."""


class FrameRejected(ChannelError):
    """A data frame (sealed or authenticated) that must not be delivered."""


class NotEstablished(FrameRejected):
    """A data frame before any session exists with the peer."""


class UnknownSession(FrameRejected):
    """A data frame of another session than the current one (e.g. from before the peer restarted)."""


class ReplayedFrame(FrameRejected):
    """The frame's counter was already received, or is too old to tell (CCF: monotonic send counter)."""


class TamperedFrame(FrameRejected):
    """AES-GCM authentication failed: the header, payload, counter or tag was modified."""


class ChannelUsageError(RuntimeError):
    """Our own misuse of a channel (sending before the handshake completed): a bug of the caller."""
