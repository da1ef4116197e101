"""A node-to-node channel with one peer, sans-IO (h11 style): frames in, events out (DESIGN.md section 5).

CCF's design: the channel terminates in the enclave, the host carries its frames as opaque bytes. A signed
ephemeral ECDH handshake (channel_handshake.py) gives the two nodes one AES-256-GCM key per direction;
then `seal` encrypts a payload and `authenticate` sends a header and a payload in the clear under a GCM
tag (consensus headers, and ledger entries that already carry their own encryption). Frames carry a
counter; replays are rejected (channel_session.py).

Rules implemented here, all transitions in `_move`:
- `initiate()` may be called in any state (first contact, a retry after a timeout the runtime measures in
  ticks, or after this node restarted): it starts a fresh handshake with a new ephemeral key and nonce.
- Simultaneous open (both sides initiated): the handshake of the node with the lower node id wins; the
  higher one abandons its own INIT and answers the peer's, the lower one ignores the peer's INIT.
- Re-handshake (the peer restarted, or rekeys): the current session stays usable until the new handshake
  completes, so a replayed INIT cannot take a working channel down; once it completes, frames of the old
  session are rejected (`UnknownSession`).
- A rejected frame raises a `ChannelError` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import assert_never

from cryptography import x509

from enclave.crypto.identity import NodeIdentity
from enclave.crypto.ids import NodeId
from enclave.crypto.keys import PublicKey
from enclave.platform.api import RandomBytes
from enclave.runtime.channel_errors import (
    ChannelUsageError,
    NotEstablished,
    StaleHandshake,
    UnexpectedHandshake,
    UnexpectedPeer,
    UnknownSession,
)
from enclave.runtime.channel_handshake import (
    EphemeralShare,
    SessionKeys,
    authenticate_peer,
    check_finish_signature,
    check_init_signature,
    check_response_signature,
    decode_ephemeral_key,
    derive_session_keys,
    make_finish,
    make_init,
    make_response,
)
from enclave.runtime.channel_session import Session
from enclave.runtime.channel_wire import (
    NODE_ID_SIZE,
    DataFrame,
    FrameKind,
    HandshakeFinish,
    HandshakeInit,
    HandshakeResponse,
    SessionId,
    decode_frame,
)


class ChannelState(Enum):
    CLOSED = "closed"  # no session, no handshake in progress
    INITIATED = "initiated"  # our INIT is out, waiting for the peer's RESPONSE
    RESPONDED = "responded"  # we answered the peer's INIT, waiting for its FINISH
    ESTABLISHED = "established"  # a session, no handshake in progress


# Where each state may go. INITIATED and RESPONDED may also hold the previous session (re-handshake).
_TRANSITIONS: dict[ChannelState, frozenset[ChannelState]] = {
    ChannelState.CLOSED: frozenset({ChannelState.INITIATED, ChannelState.RESPONDED}),
    ChannelState.INITIATED: frozenset(
        {ChannelState.INITIATED, ChannelState.RESPONDED, ChannelState.ESTABLISHED}
    ),
    ChannelState.RESPONDED: frozenset(
        {ChannelState.INITIATED, ChannelState.RESPONDED, ChannelState.ESTABLISHED}
    ),
    ChannelState.ESTABLISHED: frozenset({ChannelState.INITIATED, ChannelState.RESPONDED}),
}


@dataclass(frozen=True, slots=True)
class SendToPeer:
    """A handshake frame the host must carry to the peer."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class SessionEstablished:
    """A new session is in use from now on; frames of any earlier one are rejected."""

    session_id: SessionId


@dataclass(frozen=True, slots=True)
class SealedReceived:
    """A sealed frame, decrypted and authenticated."""

    header: bytes
    payload: bytes


@dataclass(frozen=True, slots=True)
class AuthenticatedReceived:
    """An authenticated frame: header and payload were sent in the clear, and both are authentic."""

    header: bytes
    payload: bytes


ChannelEvent = SendToPeer | SessionEstablished | SealedReceived | AuthenticatedReceived


@dataclass(frozen=True, slots=True)
class _Initiated:
    share: EphemeralShare
    init: HandshakeInit


@dataclass(frozen=True, slots=True)
class _Responded:
    init: HandshakeInit
    response: HandshakeResponse
    peer_key: PublicKey
    keys: SessionKeys


_Handshake = _Initiated | _Responded


class Channel:
    """This node's end of the channel to one peer: `receive(frame)` gives events, `initiate`, `seal` and
    `authenticate` give frames to send. Randomness (ephemeral keys, nonces) comes from `random_bytes`."""

    __slots__ = (
        "_handshake",
        "_identity",
        "_node_id",
        "_peer_id",
        "_random_bytes",
        "_service_cert",
        "_session",
        "_state",
    )

    def __init__(
        self,
        identity: NodeIdentity,
        peer_id: NodeId,
        service_cert: x509.Certificate,
        random_bytes: RandomBytes,
    ) -> None:
        if len(peer_id) != 2 * NODE_ID_SIZE or peer_id != peer_id.lower():
            raise ValueError(f"a node id is {2 * NODE_ID_SIZE} lowercase hex digits, not {peer_id!r}")
        if peer_id == identity.node_id:
            raise ValueError("a channel needs two different nodes")
        self._identity = identity
        self._node_id = identity.node_id
        self._peer_id = peer_id
        self._service_cert = service_cert
        self._random_bytes = random_bytes
        self._state = ChannelState.CLOSED
        self._handshake: _Handshake | None = None
        self._session: Session | None = None

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def node_id(self) -> NodeId:
        return self._node_id

    @property
    def peer_id(self) -> NodeId:
        return self._peer_id

    @property
    def session_id(self) -> SessionId | None:
        """The session frames are sealed and accepted under, if any (also during a re-handshake)."""
        return None if self._session is None else self._session.session_id

    def _move(
        self, state: ChannelState, handshake: _Handshake | None, new_session: Session | None = None
    ) -> None:
        """The one place where the channel changes state; an impossible transition is our bug. A new
        session replaces the current one, whose frames are rejected from then on."""
        if state not in _TRANSITIONS[self._state]:
            raise AssertionError(f"channel transition {self._state.value} -> {state.value}")
        self._state = state
        self._handshake = handshake
        if new_session is not None:
            self._session = new_session

    # Sending.

    def initiate(self) -> bytes:
        """An INIT frame for a fresh handshake; replaces any handshake in progress."""
        share = EphemeralShare.fresh(self._random_bytes)
        init = make_init(self._identity, self._peer_id, share)
        self._move(ChannelState.INITIATED, _Initiated(share, init))
        return init.encode()

    def seal(self, payload: bytes, *, header: bytes = b"") -> bytes:
        """A frame carrying `payload` encrypted and `header` in the clear, both authenticated."""
        return self._established_session().protect(FrameKind.SEALED, header, payload).encode()

    def authenticate(self, header: bytes, payload: bytes) -> bytes:
        """A frame carrying `header` and `payload` in the clear, both authenticated (CCF: consensus
        headers, and ledger entries that are already encrypted with the ledger secret)."""
        return self._established_session().protect(FrameKind.AUTHENTICATED, header, payload).encode()

    def _established_session(self) -> Session:
        if self._session is None:
            raise ChannelUsageError(f"no session with {self._peer_id} yet: complete the handshake first")
        return self._session

    # Receiving.

    def receive(self, data: bytes) -> list[ChannelEvent]:
        """What one frame from the peer means; raises a `ChannelError` (and changes nothing) if rejected."""
        frame = decode_frame(data)
        match frame:
            case HandshakeInit():
                return self._on_init(frame)
            case HandshakeResponse():
                return self._on_response(frame)
            case HandshakeFinish():
                return self._on_finish(frame)
            case DataFrame():
                return self._on_data(frame)
            case _:
                assert_never(frame)

    def _authenticate_peer(self, frame: HandshakeInit | HandshakeResponse) -> PublicKey:
        return authenticate_peer(
            frame, self_id=self.node_id, peer_id=self._peer_id, service_cert=self._service_cert
        )

    def _on_init(self, init: HandshakeInit) -> list[ChannelEvent]:
        peer_key = self._authenticate_peer(init)
        check_init_signature(peer_key, init)
        peer_ephemeral_key = decode_ephemeral_key(init.ephemeral_key)
        if isinstance(self._handshake, _Responded) and self._handshake.init == init:
            # A duplicate of the INIT we are answering: the same answer, or two sessions would diverge.
            return [SendToPeer(self._handshake.response.encode())]
        if self._session is not None and init.nonce == self._session.init_nonce:
            return []  # a duplicate of the INIT that led to the current session
        if self._state is ChannelState.INITIATED and self.node_id < self._peer_id:
            return []  # simultaneous open: our INIT wins, the peer answers it
        share = EphemeralShare.fresh(self._random_bytes)
        response = make_response(self._identity, init, share)
        keys = derive_session_keys(share, peer_ephemeral_key, init, response)
        self._move(ChannelState.RESPONDED, _Responded(init, response, peer_key, keys))
        return [SendToPeer(response.encode())]

    def _on_response(self, response: HandshakeResponse) -> list[ChannelEvent]:
        initiated = self._handshake
        if not isinstance(initiated, _Initiated):
            raise UnexpectedHandshake(f"a handshake response while {self._state.value}")
        peer_key = self._authenticate_peer(response)
        if response.initiator_nonce != initiated.init.nonce:
            raise StaleHandshake("the response answers another INIT than the one in progress")
        check_response_signature(peer_key, initiated.init, response)
        peer_ephemeral_key = decode_ephemeral_key(response.ephemeral_key)
        keys = derive_session_keys(initiated.share, peer_ephemeral_key, initiated.init, response)
        finish = make_finish(self._identity, initiated.init, response, keys.session_id)
        self._move(ChannelState.ESTABLISHED, None, Session(keys, initiated.init.nonce, we_initiated=True))
        return [SendToPeer(finish.encode()), SessionEstablished(keys.session_id)]

    def _on_finish(self, finish: HandshakeFinish) -> list[ChannelEvent]:
        responded = self._handshake
        if not isinstance(responded, _Responded):
            raise UnexpectedHandshake(f"a handshake finish while {self._state.value}")
        if finish.receiver != self.node_id or finish.sender != self._peer_id:
            raise UnexpectedPeer(f"a finish from {finish.sender} to {finish.receiver}")
        if finish.session_id != responded.keys.session_id:
            raise StaleHandshake("the finish names another session than the handshake in progress")
        check_finish_signature(responded.peer_key, responded.init, responded.response, finish)
        new_session = Session(responded.keys, responded.init.nonce, we_initiated=False)
        self._move(ChannelState.ESTABLISHED, None, new_session)
        return [SessionEstablished(finish.session_id)]

    def _on_data(self, frame: DataFrame) -> list[ChannelEvent]:
        if self._session is None:
            raise NotEstablished(f"a data frame before any session with {self._peer_id}")
        if frame.session_id != self._session.session_id:
            raise UnknownSession("a data frame of another session than the current one")
        payload = self._session.open(frame)
        if frame.kind is FrameKind.SEALED:
            return [SealedReceived(frame.header, payload)]
        return [AuthenticatedReceived(frame.header, payload)]
