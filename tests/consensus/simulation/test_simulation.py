"""Seeded simulations of 3- and 5-node clusters under faults (see `simulator`). A failing seed's
message says how to replay it alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.consensus.simulation.simulator import simulation_for_seed


def simulate(seed: int) -> None:
    simulation_for_seed(seed).run()


@pytest.mark.parametrize("seed", range(20))
def test_a_handful_of_seeds_stay_safe_and_live(seed: int) -> None:
    simulate(seed)


@pytest.mark.slow
def test_many_seeds_stay_safe_and_live() -> None:
    for seed in range(int(os.environ.get("SEALCHAIN_SIM_SEEDS", "1000"))):
        simulate(seed)


@pytest.mark.skipif("SEALCHAIN_SIM_SEED" not in os.environ, reason="set SEALCHAIN_SIM_SEED to replay a seed")
def test_replay() -> None:
    simulate(int(os.environ["SEALCHAIN_SIM_SEED"]))


def _events_of_seed_in_a_fresh_interpreter(hash_seed: str) -> str:
    """The event log of seed 199, run in a new interpreter with the given string-hash seed."""
    code = (
        "from tests.consensus.simulation.simulator import simulation_for_seed\n"
        "simulation = simulation_for_seed(199)\n"
        "simulation.run()\n"
        "print('\\n'.join(simulation.log))\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, check=True)
    return done.stdout.decode()


def test_a_seed_replays_the_same_events_whatever_the_hash_seed() -> None:
    events = _events_of_seed_in_a_fresh_interpreter("1")
    assert events.count("\n") > 100
    assert _events_of_seed_in_a_fresh_interpreter("2") == events
