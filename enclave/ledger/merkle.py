"""CCF's Merkle tree over transactions (ccf-formats.md; `ccf.merkletree.MerkleTree`).

Leaves are paired level by level with SHA-256(left || right); an odd node at the end of a level is promoted
unchanged, never duplicated. That makes the root of n leaves H(root of the first 2^k, root of the rest) with
2^k the largest power of two below n (RFC 6962's shape without its domain-separation prefixes).

`MerkleTree` keeps every complete perfect subtree (about 2n digests), so appending is O(1) amortised and the
root or an inclusion path for any earlier size costs O(log n) hashes: receipts are built for the tree as it
was when the signature transaction signed it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

DIGEST_SIZE = 32
# CCF's ledger tree starts with a zero leaf, so the leaf of seqno s is leaf s.
ZERO_LEAF = bytes(DIGEST_SIZE)
# A digest a tree started from a frontier does not hold (never hashed: see `MerkleTree.from_frontier`).
_UNKNOWN = b""


def hash_pair(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(left + right).digest()


def leaf_digest(write_set_digest: bytes, commit_evidence_digest: bytes, claims_digest: bytes) -> bytes:
    """CCF: leaf = SHA-256(write_set_digest || SHA-256(commit_evidence) || claims_digest)."""
    return hashlib.sha256(write_set_digest + commit_evidence_digest + claims_digest).digest()


@dataclass(frozen=True, slots=True)
class ProofStep:
    """A sibling on the path from a leaf to the root; `side` is where it sits (the receipt's JSON key)."""

    side: Literal["left", "right"]
    digest: bytes


def fold_path(leaf: bytes, path: list[ProofStep]) -> bytes:
    """CCF receipts: `{"left": h}` gives SHA-256(h || acc), `{"right": h}` gives SHA-256(acc || h)."""
    acc = leaf
    for step in path:
        acc = hash_pair(step.digest, acc) if step.side == "left" else hash_pair(acc, step.digest)
    return acc


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2): where the tree splits."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """Incremental CCF Merkle tree; `_levels[h][j]` is the root of leaves [j * 2^h, (j + 1) * 2^h)."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_frontier(cls, frontier: list[bytes], size: int) -> MerkleTree:
        """A tree of `size` leaves known only by its frontier (a snapshot's): it appends, roots and
        proves leaves from `size` on exactly like the whole tree, because every subtree those need
        that lies below `size` is a frontier peak; nothing below `size` can be proven or read."""
        if len(frontier) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier digests")
        tree = cls()
        tree._levels = [[_UNKNOWN] * (size >> height) for height in range(max(1, size.bit_length()))]
        peaks = iter(frontier)
        for height in reversed(range(size.bit_length())):
            if size >> height & 1:
                tree._levels[height][(size >> height) - 1] = next(peaks)
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def append(self, leaf: bytes) -> None:
        if len(leaf) != DIGEST_SIZE:
            raise ValueError("a Merkle leaf is a 32-byte digest")
        self._levels[0].append(leaf)
        height = 0
        while len(self._levels[height]) % 2 == 0:
            level = self._levels[height]
            if height + 1 == len(self._levels):
                self._levels.append([])
            self._levels[height + 1].append(hash_pair(level[-2], level[-1]))
            height += 1

    def truncate(self, size: int) -> None:
        """Drops the leaves from `size` on (a rollback of uncommitted entries)."""
        if not 0 <= size <= self.size:
            raise ValueError(f"cannot truncate a tree of {self.size} leaves to {size}")
        for height, level in enumerate(self._levels):
            del level[size >> height :]
        while len(self._levels) > 1 and not self._levels[-1]:
            self._levels.pop()

    def root(self, size: int | None = None) -> bytes:
        """The root of the first `size` leaves (all of them by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._range_root(0, size)

    def path(self, index: int, size: int | None = None) -> list[ProofStep]:
        """The inclusion path of leaf `index` in the tree of the first `size` leaves, leaf end first."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        steps: list[ProofStep] = []
        lo, hi = 0, size
        while hi - lo > 1:
            mid = lo + _split(hi - lo)
            if index < mid:
                steps.append(ProofStep("right", self._range_root(mid, hi)))
                hi = mid
            else:
                steps.append(ProofStep("left", self._range_root(lo, mid)))
                lo = mid
        steps.reverse()
        return steps

    def frontier(self, size: int | None = None) -> list[bytes]:
        """The roots of the perfect subtrees that make up the first `size` leaves, largest first: enough to
        keep appending and computing roots without the leaves (what a tree checkpoint records)."""
        size = self.size if size is None else size
        self._check_size(size, allow_empty=True)
        peaks: list[bytes] = []
        start = 0
        for height in reversed(range(size.bit_length())):
            if size >> height & 1:
                peaks.append(self._levels[height][start >> height])
                start += 1 << height
        return peaks

    def _check_size(self, size: int, allow_empty: bool = False) -> None:
        if not (0 if allow_empty else 1) <= size <= self.size:
            raise ValueError(f"no tree of {size} leaves in a tree of {self.size}")

    def _range_root(self, lo: int, hi: int) -> bytes:
        # [lo, hi) is always aligned on its largest power-of-two prefix, so perfect ranges are stored.
        count = hi - lo
        if count & (count - 1) == 0:
            height = count.bit_length() - 1
            return self._levels[height][lo >> height]
        mid = lo + _split(count)
        return hash_pair(self._range_root(lo, mid), self._range_root(mid, hi))


class CompactTree:
    """A Merkle tree that keeps only its frontier: append and root, no paths (for checking checkpoints)."""

    def __init__(self, frontier: list[bytes], size: int) -> None:
        if len(frontier) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier digests")
        heights = [h for h in reversed(range(size.bit_length())) if size >> h & 1]
        self._peaks: list[tuple[int, bytes]] = list(zip(heights, frontier, strict=True))
        self.size = size

    def append(self, leaf: bytes) -> None:
        height, digest = 0, leaf
        while self._peaks and self._peaks[-1][0] == height:
            _, left = self._peaks.pop()
            digest = hash_pair(left, digest)
            height += 1
        self._peaks.append((height, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self._peaks:
            raise ValueError("an empty tree has no root")
        acc = self._peaks[-1][1]
        for _, peak in reversed(self._peaks[:-1]):
            acc = hash_pair(peak, acc)
        return acc
