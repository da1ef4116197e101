"""RaftLog against a plain list: appends that overwrite suffixes, persisting part of the tail,
and the indexes of committable entries and configurations it keeps on the side."""

from __future__ import annotations

from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from consensus.log import RaftLog
from consensus.storage import InMemoryStorage
from consensus.types import ChangeKind, ConfChange, Configuration, Entry, Index, NodeId, Term

GENESIS = Configuration(frozenset({NodeId("n1"), NodeId("n2"), NodeId("n3")}))

# An operation: (where the new entries start, relative to the end; their terms; which are committable;
# which add a learner; whether to persist everything afterwards).
operations = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),
        st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.booleans()), min_size=1, max_size=5),
        st.booleans(),
    ),
    max_size=12,
)


@given(operations)
def test_the_log_behaves_like_a_list_with_overwrites(
    ops: list[tuple[int, list[tuple[int, bool, bool]], bool]],
) -> None:
    storage = InMemoryStorage(GENESIS)
    log = RaftLog(storage)
    model: list[Entry] = []
    spares = (NodeId(f"s{i}") for i in count())
    for back, new, persist in ops:
        first = max(1, len(model) + 1 - back)
        term = (model[first - 2].term if first > 1 else 0) + 1
        entries = []
        for offset, (bump, committable, change) in enumerate(new):
            term += bump
            conf = ConfChange(ChangeKind.ADD_LEARNER, next(spares)) if change else None
            entries.append(Entry(Term(term), Index(first + offset), b"", committable, conf))
        log.append(entries)
        model = model[: first - 1] + entries
        if persist:
            storage.append(log.unstable_entries())
            log.stable_to(model[-1].index, model[-1].term)

        assert log.last_index() == len(model)
        assert log.entries(Index(1), Index(len(model) + 1)) == model
        committable_indexes = [e.index for e in model if e.committable]
        last = committable_indexes[-1] if committable_indexes else 0
        assert log.last_committable() == (last, model[last - 1].term if last else 0)
        for probe in range(len(model) + 1):
            expected = max([0, *(i for i in committable_indexes if i <= probe)])
            assert log.committable_at_or_before(Index(probe)) == expected
        learners = {e.change.node for e in model if e.change is not None}
        assert log.configuration() == Configuration(GENESIS.voters, frozenset(learners))


@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=30).map(sorted), st.integers(0, 40), st.integers(0, 6)
)
def test_the_conflict_hint_is_the_last_entry_with_a_term_at_most_the_leaders(
    terms: list[int], index: int, term: int
) -> None:
    storage = InMemoryStorage(GENESIS)
    storage.append([Entry(Term(t), Index(i), b"") for i, t in enumerate(terms, start=1)])
    log = RaftLog(storage)
    index = min(index, len(terms))
    hint_index, hint_term = log.find_conflict_by_term(Index(index), Term(term))
    expected = max([0, *(i for i in range(1, index + 1) if terms[i - 1] <= term)])
    assert hint_index == expected
    assert hint_term == (terms[expected - 1] if expected else 0)
