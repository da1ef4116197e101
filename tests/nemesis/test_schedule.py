"""The nemesis's schedule: replayable from its seed, bounded, and never faulting a majority."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.nemesis.schedule import (
    DURATIONS,
    ELECTION_TIMEOUT_SECONDS,
    GAP_SECONDS,
    PRIMARY,
    Action,
    FaultKind,
    minority,
    plan_faults,
    steps,
)

THREE = ["node0", "node1", "node2"]
seeds = st.integers(0, 2**32 - 1)
durations = st.floats(0.0, 120.0)
clusters = st.sampled_from([THREE, [f"node{i}" for i in range(5)], [f"node{i}" for i in range(7)]])


@given(seeds, durations, clusters)
def test_a_seed_replays_the_same_schedule(seed: int, duration: float, names: list[str]) -> None:
    assert plan_faults(seed, duration, names) == plan_faults(seed, duration, list(names))


def test_different_seeds_give_different_schedules() -> None:
    schedules = {tuple(plan_faults(seed, 60.0, THREE)) for seed in range(10)}
    assert len(schedules) == 10


@given(seeds, durations, clusters)
def test_every_fault_heals_within_the_run_and_their_count_is_bounded(
    seed: int, duration: float, names: list[str]
) -> None:
    faults = plan_faults(seed, duration, names)
    assert all(0 < fault.start < fault.end <= duration for fault in faults)
    assert all(fault.node in [*names, PRIMARY] for fault in faults)
    # every fault starts at least one minimal gap after the previous start
    assert len(faults) <= duration / GAP_SECONDS[0]
    assert len(plan_faults(seed, duration, names, max_faults=3)) <= 3


@given(seeds, durations, clusters)
def test_never_more_than_a_minority_is_faulty(seed: int, duration: float, names: list[str]) -> None:
    faults = plan_faults(seed, duration, names)
    for fault in faults:
        # the faulty nodes at the instant `fault` starts (including itself): the most at any time,
        # since the count only grows at a start
        faulty = [other for other in faults if other.start <= fault.start < other.recovered]
        assert len(faulty) <= minority(names)
        named = [other.node for other in faulty if other.node != PRIMARY]
        assert len(set(named)) == len(named), "a node faulted twice at once"


@given(seeds, durations)
def test_every_fault_lasts_as_its_kind_says_and_a_pause_outlasts_the_election_timeout(
    seed: int, duration: float
) -> None:
    for fault in plan_faults(seed, duration, THREE):
        shortest, longest = DURATIONS[fault.kind]
        assert shortest <= fault.end - fault.start <= longest
        if fault.kind is FaultKind.PAUSE:
            assert fault.end - fault.start > ELECTION_TIMEOUT_SECONDS


def test_a_minute_on_three_nodes_has_every_kind_of_fault_on_primaries_and_named_nodes() -> None:
    faults = [fault for seed in range(3) for fault in plan_faults(seed, 60.0, THREE)]
    assert {fault.kind for fault in faults} == set(FaultKind)
    assert {fault.node for fault in faults} == {*THREE, PRIMARY}


@given(seeds, durations)
def test_steps_carry_out_each_fault_in_time_order(seed: int, duration: float) -> None:
    faults = plan_faults(seed, duration, THREE)
    planned = steps(faults)
    assert [step.at for step in planned] == sorted(step.at for step in planned)
    for fault in faults:
        mine = [step for step in planned if step.fault == fault]
        if fault.kind is FaultKind.FLAP:
            assert {step.action for step in mine} == {Action.RESET}
            assert all(fault.start <= step.at < fault.end for step in mine)
        else:
            assert [(step.at, step.node) for step in mine] == [
                (fault.start, fault.node),
                (fault.end, fault.node),
            ]
