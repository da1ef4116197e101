"""Signature transactions (CCF): the primary signs the Merkle root with its node key, and records the tree.

A signature entry writes `public:ccf.internal.signatures` (JSON: seqno, view, node, root hex, sig base64) and
`public:ccf.internal.tree` (a tree checkpoint, below); it is the committable entry for consensus. The root
it signs covers the leaves of every earlier seqno (leaf 0 is CCF's zero leaf), not its own.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from dataclasses import dataclass

from enclave.crypto.ids import NodeId
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.merkle import DIGEST_SIZE, CompactTree
from enclave.ledger.tables import SIGNATURES, SINGLETON_KEY, TREE
from enclave.ledger.txid import TxId


class SignatureFormatError(ValueError):
    """A signatures or tree value that does not parse."""


@dataclass(frozen=True, slots=True)
class SignaturePolicy:
    """CCF's `sig_tx_interval` and `sig_ms_interval`: a signature is due after this many unsigned
    transactions or this many milliseconds since the last signature, whichever comes first."""

    max_transactions: int = 5000
    max_interval_ms: int = 1000

    def __post_init__(self) -> None:
        if self.max_transactions < 1 or self.max_interval_ms < 1:
            raise ValueError("signature intervals must be positive")

    def is_due(self, unsigned_transactions: int, ms_since_last_signature: int) -> bool:
        if unsigned_transactions == 0:
            return False
        return (
            unsigned_transactions >= self.max_transactions or ms_since_last_signature >= self.max_interval_ms
        )


@dataclass(frozen=True, slots=True)
class PrimarySignature:
    """The value of `public:ccf.internal.signatures`: `node` signed `root` in the entry at `txid`."""

    txid: TxId
    node: NodeId
    root: bytes
    sig: bytes

    def encode(self) -> bytes:
        return json.dumps(
            {
                "seqno": self.txid.seqno,
                "view": self.txid.view,
                "node": self.node,
                "root": self.root.hex(),
                "sig": base64.b64encode(self.sig).decode("ascii"),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, value: bytes) -> PrimarySignature:
        try:
            fields = json.loads(value)
            txid = TxId(int(fields["view"]), int(fields["seqno"]))
            node = NodeId(str(fields["node"]))
            root = bytes.fromhex(fields["root"])
            sig = base64.b64decode(fields["sig"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise SignatureFormatError(f"signature value does not parse: {exc}") from exc
        if len(root) != DIGEST_SIZE:
            raise SignatureFormatError("signed root is not 32 bytes")
        return cls(txid, node, root, sig)


@dataclass(frozen=True, slots=True)
class TreeCheckpoint:
    """The value of `public:ccf.internal.tree`: the frontier of the tree as of the previous signature plus
    every leaf since, so the leaves are authenticated by the signed root (an auditor can then name the exact
    entry that changed) and a node can resume the tree from here.

    Encoding (ours; CCF's tools do not read it): u64 LE size, u64 LE first listed leaf F, the popcount(F)
    frontier digests of the first F leaves, then leaves F..size-1, 32 bytes each.
    """

    size: int
    first_listed: int
    frontier: tuple[bytes, ...]
    leaves: tuple[bytes, ...]

    def encode(self) -> bytes:
        return struct.pack("<QQ", self.size, self.first_listed) + b"".join(self.frontier + self.leaves)

    @classmethod
    def decode(cls, value: bytes) -> TreeCheckpoint:
        if len(value) < 16:
            raise SignatureFormatError("tree checkpoint shorter than its header")
        size, first = struct.unpack_from("<QQ", value)
        if first > size:
            raise SignatureFormatError(f"tree checkpoint lists leaves from {first} in a tree of {size}")
        peaks = first.bit_count()
        if len(value) != 16 + DIGEST_SIZE * (peaks + size - first):
            raise SignatureFormatError("tree checkpoint length does not match its sizes")
        digests = [value[i : i + DIGEST_SIZE] for i in range(16, len(value), DIGEST_SIZE)]
        return cls(size, first, tuple(digests[:peaks]), tuple(digests[peaks:]))

    def root(self) -> bytes:
        tree = CompactTree(list(self.frontier), self.first_listed)
        for leaf in self.leaves:
            tree.append(leaf)
        return tree.root()

    def leaf(self, index: int) -> bytes | None:
        """Leaf `index` if this checkpoint lists it."""
        if self.first_listed <= index < self.size:
            return self.leaves[index - self.first_listed]
        return None


def signature_write_set(signature: PrimarySignature, checkpoint: TreeCheckpoint) -> WriteSet:
    return WriteSet(
        {
            SIGNATURES: MapWrites(writes={SINGLETON_KEY: signature.encode()}),
            TREE: MapWrites(writes={SINGLETON_KEY: checkpoint.encode()}),
        }
    )
