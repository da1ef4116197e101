"""The bytes of a snapshot and of a snapshot file, canonical and strictly decoded.

A snapshot *body* is what the evidence transaction's claims digest commits to: msgpack of
`[format, seqno, view, view_history, voters, learners, tree_frontier, last_leaf, public_state,
private_state]`:
- `seqno`/`view`: the signature transaction the state is taken at;
- `view_history`: `[view, first seqno]` pairs (CCF's snapshots carry it too), so a node started from the
  snapshot knows the view of every earlier seqno (transaction statuses);
- `voters`/`learners`: the Raft configuration in force at `seqno`;
- `tree_frontier`/`last_leaf`: the Merkle tree of leaves `[0, seqno)` as its frontier, and leaf `seqno`:
  enough to append, sign and check signatures without the earlier ledger;
- `public_state`: the public maps (kv/committed_state.py's canonical encoding);
- `private_state`: the private maps in the same encoding, AES-256-GCM under the ledger secret of `seqno`,
  IV = seqno (8 bytes LE) || view (4 bytes LE) with the top bit set (CCF reserves it for snapshots, so it
  never equals a ledger entry's IV), AAD = SHA-256 of the public state.

A snapshot *file* (`snapshot_<seqno>_<evidence seqno>.committed`, CCF's name) is msgpack of
`[format, body, receipt]`: the body and the JSON receipt of the evidence transaction.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import cast

import msgpack

from consensus import Configuration
from consensus import NodeId as RaftNodeId
from enclave.kv.committed_state import SnapshotFormatError

SNAPSHOT_FILE_FORMAT = 1
SNAPSHOT_BODY_FORMAT = 1
SNAPSHOT_IV_FLAG = 1 << 31
_FILE_NAME = re.compile(r"snapshot_(\d+)_(\d+)\.committed")


@dataclass(frozen=True, slots=True)
class SnapshotBody:
    seqno: int
    view: int
    view_history: tuple[tuple[int, int], ...]
    voters: tuple[str, ...]
    learners: tuple[str, ...]
    tree_frontier: tuple[bytes, ...]
    last_leaf: bytes
    public_state: bytes
    private_state: bytes

    def encode(self) -> bytes:
        return _pack(
            [
                SNAPSHOT_BODY_FORMAT,
                self.seqno,
                self.view,
                [list(pair) for pair in self.view_history],
                list(self.voters),
                list(self.learners),
                list(self.tree_frontier),
                self.last_leaf,
                self.public_state,
                self.private_state,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> SnapshotBody:
        fields = _unpack(data, "snapshot body", SNAPSHOT_BODY_FORMAT, 10)
        try:
            body = cls(
                seqno=_int(fields[1]),
                view=_int(fields[2]),
                view_history=tuple((_int(p[0]), _int(p[1])) for p in _pairs(fields[3])),
                voters=tuple(_str(v) for v in _list(fields[4])),
                learners=tuple(_str(v) for v in _list(fields[5])),
                tree_frontier=tuple(_digest(d) for d in _list(fields[6])),
                last_leaf=_digest(fields[7]),
                public_state=_bytes(fields[8]),
                private_state=_bytes(fields[9]),
            )
        except (TypeError, IndexError) as exc:
            raise SnapshotFormatError(f"snapshot body has a malformed field: {exc}") from None
        if body.encode() != data:
            raise SnapshotFormatError("snapshot body is not in canonical encoding")
        if body.seqno < 1 or len(body.tree_frontier) != body.seqno.bit_count():
            raise SnapshotFormatError(f"snapshot at {body.seqno} has a frontier of {len(body.tree_frontier)}")
        return body

    @property
    def configuration(self) -> Configuration:
        """The Raft configuration in force at `seqno`."""
        return Configuration(
            frozenset(map(RaftNodeId, self.voters)), frozenset(map(RaftNodeId, self.learners))
        )

    def private_iv(self) -> bytes:
        return struct.pack("<QI", self.seqno, self.view | SNAPSHOT_IV_FLAG)

    def private_aad(self) -> bytes:
        return hashlib.sha256(self.public_state).digest()


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    """A committed snapshot as the host stores it: the body and the evidence transaction's receipt."""

    body: bytes
    receipt_json: str

    def encode(self) -> bytes:
        return _pack([SNAPSHOT_FILE_FORMAT, self.body, self.receipt_json])

    @classmethod
    def decode(cls, data: bytes) -> SnapshotFile:
        fields = _unpack(data, "snapshot file", SNAPSHOT_FILE_FORMAT, 3)
        try:
            return cls(_bytes(fields[1]), _str(fields[2]))
        except TypeError as exc:
            raise SnapshotFormatError(f"snapshot file has a malformed field: {exc}") from None


def snapshot_file_name(seqno: int, evidence_seqno: int) -> str:
    return f"snapshot_{seqno}_{evidence_seqno}.committed"


def parse_snapshot_file_name(name: str) -> tuple[int, int] | None:
    """`(seqno, evidence seqno)` of a committed snapshot file's name; None for any other name."""
    match = _FILE_NAME.fullmatch(name)
    return None if match is None else (int(match[1]), int(match[2]))


def _pack(value: object) -> bytes:
    return cast(bytes, msgpack.packb(value, use_bin_type=True))


def _unpack(data: bytes, what: str, format_version: int, arity: int) -> list[object]:
    """The fields of a `[format, ...]` array of `arity` fields in format `format_version`."""
    try:
        decoded = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for garbage and truncation
        raise SnapshotFormatError(f"{what} is not msgpack: {type(exc).__name__}: {exc}") from None
    if not (isinstance(decoded, list) and len(decoded) == arity):
        raise SnapshotFormatError(f"{what} is not an array of {arity} fields")
    if decoded[0] != format_version:
        raise SnapshotFormatError(f"unknown {what} format {decoded[0]!r}")
    return decoded


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a natural number, got {value!r}")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    return value


def _digest(value: object) -> bytes:
    digest = _bytes(value)
    if len(digest) != 32:
        raise TypeError(f"expected a 32-byte digest, got {len(digest)} bytes")
    return digest


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected an array, got {type(value).__name__}")
    return value


def _pairs(value: object) -> list[list[object]]:
    pairs = _list(value)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise TypeError("expected [view, seqno] pairs")
    return cast(list[list[object]], pairs)
