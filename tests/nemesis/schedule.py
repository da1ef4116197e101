"""The nemesis's plan: a seeded schedule of faults on named nodes, as a pure function of its inputs.

`plan_faults(seed, duration, names)` draws faults one after another: a quiet gap, then a fault of a random
kind on a random node for a random time. A node counts as faulty from its fault's start until it has had
time to recover (a killed node must restart and catch up), and never more than a minority of the nodes is
faulty at once, so a majority can always commit. A fault's target is a named node or, half the time,
whichever healthy node is primary when it starts. Every fault ends (heals) before `duration`, and the number
of faults is bounded by `duration` (and `max_faults`). `steps(faults)` turns the faults into the timed
actions the injector carries out (`tests/nemesis/faults.py`).

The network faults act on a node's *inbound* peer proxy: every peer connection to the node passes through it,
so they are faults of what the node hears; ISOLATE also refuses the node's own connections at the other
nodes' proxies (docs/testing.md says what that covers and what it does not).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from tests.integration.cluster import TEST_CONSENSUS

ELECTION_TIMEOUT_SECONDS = TEST_CONSENSUS.tick_interval_ms * TEST_CONSENSUS.election_ticks / 1000
WARMUP_SECONDS = 1.0  # load runs on a healthy service before the first fault
GAP_SECONDS = (0.3, 1.5)  # quiet time between one fault's start and the previous one's recovery
DEFAULT_MAX_FAULTS = 1000
# A fault's target: a node by name, or whichever healthy node is primary when the fault starts (the node
# whose faults matter most; the injector resolves it, so the plan stays a pure function of the seed).
PRIMARY = "primary"
PRIMARY_SHARE = 0.5


class FaultKind(Enum):
    KILL = "kill -9, then restart"
    PAUSE = "SIGSTOP, then SIGCONT"
    ISOLATE = "peer traffic cut both ways, connections reset (a symmetric partition of one node)"
    DEAFEN = "inbound peer traffic cut, connections reset; held bytes dropped on heal"
    HOLD_INBOUND = "inbound peer bytes held (one-way cut), delivered late on heal"
    HOLD_ACKS = "the node's answers on its inbound streams held (one-way cut), delivered on heal"
    DELAY = "inbound peer bytes delayed, with jitter"
    FLAP = "inbound peer connections reset again and again"


# How long each kind of fault lasts (seconds). A pause outlasts the election timeout, or it tests nothing.
DURATIONS: dict[FaultKind, tuple[float, float]] = {
    FaultKind.KILL: (0.5, 3.0),
    FaultKind.PAUSE: (2 * ELECTION_TIMEOUT_SECONDS, 8 * ELECTION_TIMEOUT_SECONDS),
    FaultKind.ISOLATE: (1.0, 4.0),
    FaultKind.DEAFEN: (1.0, 4.0),
    FaultKind.HOLD_INBOUND: (1.0, 3.0),
    FaultKind.HOLD_ACKS: (1.0, 3.0),
    FaultKind.DELAY: (2.0, 5.0),
    FaultKind.FLAP: (1.5, 4.0),
}
# After its fault ends a node still needs this long before it counts as healthy again: a killed node
# starts a Python process, reads its ledger and catches up; the others only reconnect.
RECOVERY_SECONDS: dict[FaultKind, float] = {kind: 0.5 for kind in FaultKind} | {FaultKind.KILL: 3.0}
DELAY_SECONDS = (0.005, 0.1)  # a DELAY fault's fixed part; its jitter is up to as much again
FLAP_PERIOD_SECONDS = (0.2, 0.8)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault on `node` (a name, or `PRIMARY`) over [start, end) seconds from the run's start.
    `delay`/`jitter`: a DELAY's; `period`: a FLAP's time between resets; `seed`: the proxy's jitter
    generator's."""

    kind: FaultKind
    node: str
    start: float
    end: float
    delay: float = 0.0
    jitter: float = 0.0
    period: float = 0.0
    seed: int = 0

    @property
    def recovered(self) -> float:
        """When the node counts as healthy again."""
        return self.end + RECOVERY_SECONDS[self.kind]


class Action(Enum):
    KILL = "kill"
    RESTART = "restart"
    PAUSE = "pause"
    RESUME = "resume"
    ISOLATE = "isolate"
    REJOIN = "rejoin"
    DEAFEN = "deafen"
    HOLD_INBOUND = "hold inbound"
    HOLD_ACKS = "hold acks"
    HEAL = "heal"  # ends DEAFEN (held bytes dropped), HOLD_INBOUND and HOLD_ACKS (held bytes delivered)
    DELAY = "delay"
    UNDELAY = "undelay"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class Step:
    """An action on `node`, due `at` seconds from the run's start, for `fault`."""

    at: float
    action: Action
    node: str
    fault: Fault


def minority(names: Sequence[str]) -> int:
    """How many nodes may be faulty at once with a majority left: 1 of 3, 2 of 5."""
    return (len(names) - 1) // 2


def plan_faults(
    seed: int, duration: float, names: Sequence[str], *, max_faults: int = DEFAULT_MAX_FAULTS
) -> list[Fault]:
    """The faults of a run of `duration` seconds on the nodes `names`, in start order; the same for the
    same arguments. Every fault has healed by `duration`."""
    if minority(names) < 1:
        raise ValueError(f"{len(names)} nodes tolerate no faulty node")
    rng = random.Random(seed)
    kinds = list(FaultKind)
    faults: list[Fault] = []
    now = WARMUP_SECONDS
    while len(faults) < max_faults:
        now += rng.uniform(*GAP_SECONDS)
        faulty = [fault for fault in faults if fault.recovered > now]
        if len(faulty) >= minority(names):
            now = min(fault.recovered for fault in faulty)
            continue
        kind = rng.choice(kinds)
        healthy = [name for name in names if name not in {f.node for f in faulty}]
        node = PRIMARY if rng.random() < PRIMARY_SHARE else rng.choice(healthy)
        fault = _with_parameters(Fault(kind, node, now, now + rng.uniform(*DURATIONS[kind])), rng)
        if fault.end > duration:
            break
        faults.append(fault)
    return faults


def _with_parameters(fault: Fault, rng: random.Random) -> Fault:
    """`fault` with what its kind needs besides a node and a time."""
    match fault.kind:
        case FaultKind.DELAY:
            delay = rng.uniform(*DELAY_SECONDS)
            return replace(fault, delay=delay, jitter=rng.uniform(0, delay), seed=rng.randrange(2**32))
        case FaultKind.FLAP:
            return replace(fault, period=rng.uniform(*FLAP_PERIOD_SECONDS))
        case _:
            return fault


_BEGIN_END: dict[FaultKind, tuple[Action, Action]] = {
    FaultKind.KILL: (Action.KILL, Action.RESTART),
    FaultKind.PAUSE: (Action.PAUSE, Action.RESUME),
    FaultKind.ISOLATE: (Action.ISOLATE, Action.REJOIN),
    FaultKind.DEAFEN: (Action.DEAFEN, Action.HEAL),
    FaultKind.HOLD_INBOUND: (Action.HOLD_INBOUND, Action.HEAL),
    FaultKind.HOLD_ACKS: (Action.HOLD_ACKS, Action.HEAL),
    FaultKind.DELAY: (Action.DELAY, Action.UNDELAY),
}


def steps(faults: Sequence[Fault]) -> list[Step]:
    """The timed actions that carry out `faults`, in time order (a fault's end before another's start
    at the same instant)."""
    planned: list[Step] = []
    for fault in faults:
        if fault.kind is FaultKind.FLAP:
            count = int((fault.end - fault.start) / fault.period) + 1
            resets = (fault.start + i * fault.period for i in range(count))
            planned += [Step(at, Action.RESET, fault.node, fault) for at in resets if at < fault.end]
        else:
            begin, end = _BEGIN_END[fault.kind]
            planned += [Step(fault.start, begin, fault.node, fault), Step(fault.end, end, fault.node, fault)]
    ends = {Action.RESTART, Action.RESUME, Action.REJOIN, Action.HEAL, Action.UNDELAY}
    return sorted(planned, key=lambda step: (step.at, step.action not in ends))
