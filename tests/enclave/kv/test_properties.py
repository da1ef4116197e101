"""Properties of the store under random schedules (hypothesis).

1. Serialisability: concurrent transactions interleaved at random, with Raft commits (and so
   compaction) and a rollback of pending versions in between. Every transaction that commits read
   exactly what it would have read running alone at its commit point, so the committed ones give the
   same reads and the same final state as running them serially in commit order; any transaction whose
   reads were invalidated by an earlier commit conflicts.
2. Lifecycle: random apply/commit/rollback sequences agree with a model that keeps the whole state at
   every version; the committed deltas, sealed and unsealed, rebuild the committed state; snapshots
   round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import assert_never

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from enclave.kv.committed_state import CommittedState, VersionedValue
from enclave.kv.state_sealing import StateSealer, StoredRecord, StoredState
from enclave.kv.store import KvStore, RollbackOfCommittedVersion, VersionError
from enclave.kv.transaction import Committed, Conflict, Transaction
from enclave.kv.write_set import MapWrites, WriteSet

MAPS = ("m", "public:p")
KEYS = (b"a", b"ab", b"b", b"ba", b"c")
VALUES = (b"0", b"1", b"2")

# (map, key) -> (version, value): the state as a model, one dict per version.
ModelState = dict[tuple[str, bytes], tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class Get:
    map_name: str
    key: bytes


@dataclass(frozen=True, slots=True)
class GetVersion:
    map_name: str
    key: bytes


@dataclass(frozen=True, slots=True)
class Scan:
    map_name: str
    prefix: bytes
    start: bytes | None
    limit: int | None


@dataclass(frozen=True, slots=True)
class Put:
    map_name: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Remove:
    map_name: str
    key: bytes


Operation = Get | GetVersion | Scan | Put | Remove

maps = st.sampled_from(MAPS)
keys = st.sampled_from(KEYS)
operations: st.SearchStrategy[Operation] = st.one_of(
    st.builds(Get, maps, keys),
    st.builds(GetVersion, maps, keys),
    st.builds(
        Scan,
        maps,
        st.sampled_from((b"", b"a", b"b")),
        st.none() | keys,
        st.none() | st.integers(min_value=1, max_value=3),
    ),
    st.builds(Put, maps, keys, st.sampled_from(VALUES)),
    st.builds(Remove, maps, keys),
)
programs = st.lists(operations, min_size=1, max_size=5)
RAFT_COMMIT = -1
ROLLBACK = -2


def run_on_model(program: list[Operation], state: ModelState) -> tuple[list[object], ModelState]:
    """What the program reads when it runs alone on `state`, and the state it leaves (its own writes
    at version -1, for the caller to fill in)."""
    own: dict[tuple[str, bytes], bytes | None] = {}
    reads: list[object] = []
    for operation in program:
        match operation:
            case Get(map_name, key):
                if (map_name, key) in own:
                    reads.append(own[(map_name, key)])
                else:
                    entry = state.get((map_name, key))
                    reads.append(None if entry is None else entry[1])
            case GetVersion(map_name, key):
                entry = state.get((map_name, key))
                reads.append(None if entry is None else entry[0])
            case Scan(map_name, prefix, start, limit):
                low = prefix if start is None or start < prefix else start
                merged: dict[bytes, bytes | None] = {
                    key: value for (name, key), (_, value) in state.items() if name == map_name
                }
                merged.update({key: value for (name, key), value in own.items() if name == map_name})
                found = [
                    (key, value)
                    for key, value in sorted(merged.items())
                    if value is not None and key >= low and key.startswith(prefix)
                ]
                reads.append(found[:limit])
            case Put(map_name, key, value):
                own[(map_name, key)] = value
            case Remove(map_name, key):
                own[(map_name, key)] = None
            case _:
                assert_never(operation)
    return reads, _with_writes(state, own, version=-1)


def _with_writes(state: ModelState, own: dict[tuple[str, bytes], bytes | None], version: int) -> ModelState:
    new_state = dict(state)
    for location, value in own.items():
        if value is None:
            new_state.pop(location, None)
        else:
            new_state[location] = (version, value)
    return new_state


def run_step(tx: Transaction, operation: Operation) -> object:
    match operation:
        case Get(map_name, key):
            return tx.get(map_name, key)
        case GetVersion(map_name, key):
            return tx.get_version(map_name, key)
        case Scan(map_name, prefix, start, limit):
            return tx.scan(map_name, prefix, start, limit)
        case Put(map_name, key, value):
            tx.put(map_name, key, value)
        case Remove(map_name, key):
            tx.remove(map_name, key)
        case _:
            assert_never(operation)
    return None


def is_read(operation: Operation) -> bool:
    return isinstance(operation, Get | GetVersion | Scan)


def visible_state(store: KvStore) -> ModelState:
    tx = store.begin()
    return {
        (map_name, key): (tx.get_version(map_name, key) or 0, value)
        for map_name in MAPS
        for key, value in tx.scan(map_name)
    }


@dataclass
class Running:
    program: list[Operation]
    tx: Transaction | None = None
    next_step: int = 0
    reads: list[object] = field(default_factory=list)
    done: bool = False


@settings(max_examples=300, deadline=None)
@given(programs=st.lists(programs, min_size=2, max_size=4), data=st.data())
def test_committed_transactions_are_serialisable_in_commit_order(
    programs: list[list[Operation]], data: st.DataObject
) -> None:
    store = KvStore()
    setup = store.begin()
    for map_name in MAPS:
        for key in KEYS[::2]:
            setup.put(map_name, key, b"init")
    setup.commit()
    models = [{}, visible_state(store)]  # the serial state at every version
    running = [Running(program) for program in programs]
    # Each transaction takes len(program) + 2 steps (begin, operations, commit); RAFT_COMMIT commits
    # the store to its head (compacting under running snapshots); ROLLBACK truncates what is pending.
    schedule = data.draw(
        st.permutations(
            [i for i, r in enumerate(running) for _ in range(len(r.program) + 2)]
            + [RAFT_COMMIT, RAFT_COMMIT, ROLLBACK]
        )
    )
    for index in schedule:
        if index == RAFT_COMMIT:
            store.commit(store.version)
            continue
        if index == ROLLBACK:
            store.rollback(store.commit_version)
            del models[store.commit_version + 1 :]
            continue
        current = running[index]
        if current.done:
            continue
        if current.tx is None:
            current.tx = store.begin()
        elif current.next_step < len(current.program):
            operation = current.program[current.next_step]
            current.next_step += 1
            try:
                result = run_step(current.tx, operation)
            except Conflict:
                event("conflict while reading a compacted snapshot")
                current.done = True
                continue
            if is_read(operation):
                current.reads.append(result)
        else:
            current.done = True
            serial_reads, serial_state = run_on_model(current.program, models[-1])
            try:
                outcome = current.tx.commit()
            except Conflict:
                event("conflict at commit")
                continue
            # It committed, so it must have read what it would have read running alone right now.
            assert current.reads == serial_reads
            if isinstance(outcome, Committed):
                event("committed")
                assert outcome.version == len(models)
                models.append(
                    {
                        location: (outcome.version if version == -1 else version, value)
                        for location, (version, value) in serial_state.items()
                    }
                )
            else:
                event("read-only")
        assert visible_state(store) == models[-1]


def model_committed_state(states: list[ModelState], version: int) -> CommittedState:
    maps_: dict[str, dict[bytes, VersionedValue]] = {}
    for (map_name, key), (key_version, value) in sorted(states[version].items()):
        maps_.setdefault(map_name, {})[key] = VersionedValue(key_version, value)
    return CommittedState(version, maps_)


lifecycle_steps = st.one_of(
    st.tuples(
        st.just("apply"),
        st.lists(st.tuples(maps, keys, st.none() | st.sampled_from(VALUES)), max_size=4),
    ),
    st.tuples(st.just("commit"), st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("rollback"), st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("snapshot")),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(lifecycle_steps, max_size=30))
def test_apply_commit_rollback_agree_with_a_model_of_every_version(steps: list[tuple[object, ...]]) -> None:
    store = KvStore()
    sealer = StateSealer(bytes(range(32)))
    states: list[ModelState] = [{}]  # states[v]: the whole state at version v
    commit_version = 0
    host_copy: dict[tuple[str, bytes], StoredRecord] = {}
    version_record: bytes | None = None
    for step in steps:
        match step:
            case ("apply", list(changes)):
                version = len(states)
                own = {(m, k): v for m, k, v in changes}
                by_map: dict[str, tuple[dict[bytes, bytes], set[bytes]]] = {}
                for (map_name, key), value in own.items():
                    puts, removals = by_map.setdefault(map_name, ({}, set()))
                    if value is None:
                        removals.add(key)
                    else:
                        puts[key] = value
                store.apply(
                    WriteSet({name: MapWrites(p, frozenset(r)) for name, (p, r) in by_map.items()}), version
                )
                states.append(_with_writes(states[-1], own, version))
            case ("commit", int(back)):
                target = len(states) - 1 - back + 1  # from one beyond the head down to head - 3
                if target > len(states) - 1:
                    with pytest.raises(VersionError):
                        store.commit(target)
                    continue
                batch = sealer.seal(store.commit(target))
                for record in batch.records:
                    host_copy[(record.table, record.key)] = record
                for deletion in batch.deletions:
                    host_copy.pop((deletion.table, deletion.key), None)
                version_record = batch.version_record
                commit_version = max(commit_version, target)
            case ("rollback", int(back)):
                target = max(len(states) - 1 - back, 0)
                if target < commit_version:
                    with pytest.raises(RollbackOfCommittedVersion):
                        store.rollback(target)
                else:
                    store.rollback(target)
                    del states[target + 1 :]
            case ("snapshot",):
                restored = KvStore.from_snapshot(store.snapshot())
                assert restored.committed_state() == store.committed_state()
            case _:
                raise AssertionError(step)
        assert (store.version, store.commit_version) == (len(states) - 1, commit_version)
        assert visible_state(store) == states[-1]
        expected_committed = model_committed_state(states, commit_version)
        assert store.committed_state() == expected_committed
        if version_record is not None:
            unsealed = sealer.unseal(StoredState(version_record, tuple(host_copy.values())))
            assert unsealed == expected_committed
