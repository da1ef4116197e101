"""The in-memory storage: what it holds after appends, compaction and snapshots, and what it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.errors import CompactedError, InvalidSnapshotError, UnavailableError
from consensus.quorum import committed_index
from consensus.storage import InMemoryStorage
from consensus.types import Configuration, Entry, Index, NodeId, Snapshot, Term

GENESIS = Configuration(frozenset({NodeId("n1"), NodeId("n2"), NodeId("n3")}))


def entries(first: int, terms: list[int]) -> list[Entry]:
    return [Entry(Term(t), Index(i), f"e{i}".encode()) for i, t in enumerate(terms, start=first)]


def test_an_append_overwrites_the_conflicting_suffix() -> None:
    storage = InMemoryStorage(GENESIS)
    storage.append(entries(1, [1, 1, 1, 1]))
    storage.append(entries(3, [2]))
    assert storage.last_index() == 3
    assert [e.term for e in storage.entries(Index(1), Index(4))] == [1, 1, 2]


def test_compaction_keeps_the_snapshot_term_and_refuses_what_it_dropped() -> None:
    storage = InMemoryStorage(GENESIS)
    storage.append(entries(1, [1, 1, 2, 2]))
    snapshot = storage.compact(Index(3), GENESIS, b"state")
    assert snapshot == Snapshot(Index(3), Term(2), GENESIS, b"state")
    assert storage.first_index() == 4
    assert storage.term(Index(3)) == 2
    with pytest.raises(CompactedError):
        storage.term(Index(2))
    with pytest.raises(CompactedError):
        storage.entries(Index(3), Index(4))
    with pytest.raises(UnavailableError):
        storage.term(Index(5))
    with pytest.raises(InvalidSnapshotError):
        storage.compact(Index(2), GENESIS, b"older")
    with pytest.raises(InvalidSnapshotError):
        storage.compact(Index(9), GENESIS, b"future")
    assert storage.snapshot() == snapshot


def test_an_installed_snapshot_replaces_the_log() -> None:
    storage = InMemoryStorage(GENESIS)
    storage.append(entries(1, [1, 1]))
    storage.apply_snapshot(Snapshot(Index(10), Term(3), GENESIS, b"s"))
    assert (storage.first_index(), storage.last_index()) == (11, 10)
    with pytest.raises(InvalidSnapshotError):
        storage.apply_snapshot(Snapshot(Index(5), Term(3), GENESIS, b"old"))
    with pytest.raises(UnavailableError):
        storage.append(entries(13, [3]))


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=7))
def test_the_quorum_index_is_held_by_a_majority_and_is_the_largest_such(matches: list[int]) -> None:
    voters = frozenset(NodeId(f"n{i}") for i in range(len(matches)))
    match = {NodeId(f"n{i}"): Index(m) for i, m in enumerate(matches)}
    index = committed_index(voters, match)
    majority = len(matches) // 2 + 1
    assert sum(1 for m in matches if m >= index) >= majority
    assert sum(1 for m in matches if m >= index + 1) < majority
