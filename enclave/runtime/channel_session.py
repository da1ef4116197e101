"""An established node-to-node session: AES-256-GCM per direction, counted frames, replay rejection.

CCF: every frame carries the sender's monotonic counter; the 12-byte IV is the direction (4 bytes) and the
counter (8 bytes), so with one key per direction and a counter that only grows, an IV is never reused.

Replay: a sliding window of the last `REPLAY_WINDOW` counters (RFC 4303 3.4.3, as IPsec and DTLS do).
A counter above the highest seen is accepted; one inside the window is accepted once; one below the
window is rejected. Why a window rather than "greater than the highest only": the host may carry frames on
several concurrent gRPC calls (pipelined AppendEntries) and the simulated network reorders, so a strict
rule would turn every reordering into a loss that Raft must then repair by retransmission. A duplicate
is still rejected exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from enclave.runtime.channel_errors import ReplayedFrame, TamperedFrame
from enclave.runtime.channel_handshake import SessionKeys
from enclave.runtime.channel_wire import COUNTER_SIZE, TAG_SIZE, DataFrame, FrameKind, SessionId

REPLAY_WINDOW = 64
_MAX_COUNTER = 2 ** (8 * COUNTER_SIZE) - 1


class Direction(IntEnum):
    """Which way a frame travels; part of the IV."""

    INITIATOR_TO_RESPONDER = 0
    RESPONDER_TO_INITIATOR = 1


def _iv(direction: Direction, counter: int) -> bytes:
    return direction.to_bytes(4, "big") + counter.to_bytes(COUNTER_SIZE, "big")


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    """The highest counter received and a bitmap of which of the `REPLAY_WINDOW` below it were seen
    (bit i set: counter `highest - i` was received). Counters start at 1, so 0 is never accepted."""

    highest: int = 0
    seen: int = 1

    def check(self, counter: int) -> None:
        if counter > self.highest:
            return
        age = self.highest - counter
        if age >= REPLAY_WINDOW:
            raise ReplayedFrame(f"counter {counter} is older than the replay window (highest {self.highest})")
        if self.seen >> age & 1:
            raise ReplayedFrame(f"counter {counter} was already received")

    def accepting(self, counter: int) -> ReplayWindow:
        """The window after `counter` (already checked and authenticated) was received."""
        if counter > self.highest:
            shifted = self.seen << (counter - self.highest)
            return ReplayWindow(counter, (shifted | 1) & ((1 << REPLAY_WINDOW) - 1))
        return replace(self, seen=self.seen | 1 << (self.highest - counter))


class Session:
    """One session's keys and counters, seen from one end (`we_initiated` picks the send direction)."""

    __slots__ = (
        "_next_counter",
        "_receive_aead",
        "_receive_direction",
        "_send_aead",
        "_send_direction",
        "_window",
        "init_nonce",
        "session_id",
    )

    def __init__(self, keys: SessionKeys, init_nonce: bytes, *, we_initiated: bool) -> None:
        self.session_id: SessionId = keys.session_id
        # The nonce of the INIT this session came from: the channel ignores a duplicate of that INIT.
        self.init_nonce = init_nonce
        if we_initiated:
            send_key, receive_key = keys.initiator_to_responder, keys.responder_to_initiator
            self._send_direction = Direction.INITIATOR_TO_RESPONDER
        else:
            send_key, receive_key = keys.responder_to_initiator, keys.initiator_to_responder
            self._send_direction = Direction.RESPONDER_TO_INITIATOR
        self._receive_direction = Direction(1 - self._send_direction)
        self._send_aead = AESGCM(send_key)
        self._receive_aead = AESGCM(receive_key)
        self._next_counter = 1
        self._window = ReplayWindow()

    def protect(self, kind: FrameKind, header: bytes, payload: bytes) -> DataFrame:
        """A SEALED frame encrypts `payload`; an AUTHENTICATED one sends it in the clear under the tag."""
        counter = self._next_counter
        # 2^64 frames cannot be sent in a session's lifetime; reaching it would be our bug.
        assert counter <= _MAX_COUNTER, "send counter exhausted"
        self._next_counter += 1
        iv = _iv(self._send_direction, counter)
        unsealed = DataFrame(kind, self.session_id, counter, header, payload, b"")
        if kind is FrameKind.SEALED:
            sealed = self._send_aead.encrypt(iv, payload, unsealed.aad())
            return replace(unsealed, body=sealed[:-TAG_SIZE], tag=sealed[-TAG_SIZE:])
        return replace(unsealed, tag=self._send_aead.encrypt(iv, b"", unsealed.aad()))

    def open(self, frame: DataFrame) -> bytes:
        """The frame's payload (decrypted when sealed), once it is fresh and authentic; only then is its
        counter recorded, so a rejected frame changes nothing."""
        self._window.check(frame.counter)
        iv = _iv(self._receive_direction, frame.counter)
        try:
            if frame.kind is FrameKind.SEALED:
                payload = self._receive_aead.decrypt(iv, frame.body + frame.tag, frame.aad())
            else:
                self._receive_aead.decrypt(iv, frame.tag, frame.aad())
                payload = frame.body
        except InvalidTag:
            raise TamperedFrame(f"frame {frame.counter} failed authentication") from None
        self._window = self._window.accepting(frame.counter)
        return payload
