"""CCF's Merkle tree: same roots as `ccf.merkletree`, and every inclusion path folds to the root."""

from __future__ import annotations

import hashlib

import pytest
from ccf.merkletree import MerkleTree as CcfMerkleTree
from hypothesis import given
from hypothesis import strategies as st

from enclave.ledger.merkle import CompactTree, MerkleTree, fold_path, hash_pair


def leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(8, "little")).digest() for i in range(count)]


def tree_of(count: int) -> MerkleTree:
    tree = MerkleTree()
    for leaf in leaves(count):
        tree.append(leaf)
    return tree


def test_an_odd_node_is_promoted_not_duplicated() -> None:
    a, b, c = leaves(3)
    assert tree_of(3).root() == hash_pair(hash_pair(a, b), c)


@given(st.integers(min_value=1, max_value=300))
def test_roots_match_ccf_for_every_size(count: int) -> None:
    ccf_tree = CcfMerkleTree()  # type: ignore[no-untyped-call]
    for leaf in leaves(count):
        ccf_tree.add_leaf(leaf, do_hash=False)
    assert tree_of(count).root() == ccf_tree.get_merkle_root()


@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_inclusion_path_folds_to_the_root_of_its_size(count: int, data: st.DataObject) -> None:
    tree = tree_of(count + 50)
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    assert fold_path(tree.leaf(index), tree.path(index, count)) == tree.root(count) == tree_of(count).root()


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=200))
def test_truncating_gives_the_tree_of_fewer_leaves(count: int, keep: int) -> None:
    keep = min(keep, count)
    tree = tree_of(count)
    tree.truncate(keep)
    assert tree.size == keep
    if keep:
        assert tree.root() == tree_of(keep).root()
    tree.append(leaves(1)[0])
    assert tree.size == keep + 1


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=60))
def test_a_frontier_resumes_the_tree(start: int, more: int) -> None:
    tree = tree_of(start + more)
    compact = CompactTree(tree.frontier(start), start)
    for leaf in leaves(start + more)[start:]:
        compact.append(leaf)
    assert compact.root() == tree.root()


def test_paths_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        tree_of(4).path(4)
    with pytest.raises(ValueError, match="no tree"):
        tree_of(4).root(5)


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=60), st.data())
def test_a_tree_from_a_frontier_roots_and_proves_every_later_leaf_like_the_whole_tree(
    start: int, more: int, data: st.DataObject
) -> None:
    whole = tree_of(start + more)
    resumed = MerkleTree.from_frontier(whole.frontier(start), start)
    for leaf in leaves(start + more)[start:]:
        resumed.append(leaf)
    size = data.draw(st.integers(min_value=start + 1, max_value=start + more))
    index = data.draw(st.integers(min_value=start, max_value=size - 1))
    assert resumed.root(size) == whole.root(size)
    assert resumed.path(index, size) == whole.path(index, size)
    assert resumed.frontier(size) == whole.frontier(size)
    if start:
        assert resumed.frontier(start) == whole.frontier(start)
