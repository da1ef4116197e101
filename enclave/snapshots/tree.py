"""What a snapshot carries of the ledger's Merkle tree (the writer fills it; enclave/ledger/writer.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TreeState:
    """The ledger's Merkle tree at a signature transaction: the frontier of leaves `[0, seqno)` and
    leaf `seqno`, and the view of each seqno as `(view, first seqno)` pairs."""

    frontier: tuple[bytes, ...]
    last_leaf: bytes
    view_history: tuple[tuple[int, int], ...]
