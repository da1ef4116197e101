"""One nemesis run (issue 10): a 3-node service under a concurrent workload while a seeded schedule of
faults runs for a fixed time; then everything heals and the run checks what clients were promised.

    report = run_nemesis(seed=7, duration=60.0, root=Path("/tmp/nemesis"))   # AssertionError if a check fails

The checks, once healed: the register history (with a final read of every register) is linearizable;
every write acknowledged Committed is in the committed ledger at its TxID; the SmallBank accounts hold
the money they opened with (transfers only move it); every node's committed ledger is the same up to the
common commit index and verifies offline. Every failure names the seed and how to replay it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from node.config import Address, Endpoint
from tests.checker.history import ClientId, Kind, Operation, Outcome
from tests.integration.cluster import Cluster
from tests.integration.proxies import ProxyThread, proxied_peers
from tests.nemesis import checks
from tests.nemesis.faults import FaultInjector
from tests.nemesis.schedule import plan_faults, steps
from tests.nemesis.workload import KEYS, REGISTERS, Workload, WorkloadClient, open_accounts, total_money

DEFAULT_NODES = 3
CLIENTS = 6
CALL_TIMEOUT_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 1.0
CONVERGE_SECONDS = 60.0
REPLAY = "scripts/nemesis --seed {seed} --duration {duration:g} --nodes {nodes}"


@dataclass
class NemesisReport:
    seed: int
    duration: float
    nodes: int
    operations: dict[str, int] = field(default_factory=dict)  # "write ok", "read unknown", ...
    transfers: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    unknown: int = 0  # operations of unknown outcome: registers and transfers
    commit_seqno: int = 0
    term: int = 0  # the primary's once healed: how many elections the faults caused (from term 2 on)
    crashed: list[str] = field(default_factory=list)  # nodes that stopped though not killed
    checks: list[str] = field(default_factory=list)
    fault_log: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"nemesis seed {self.seed}, {self.duration:g} s of faults on {self.nodes} nodes",
            f"  operations: {sum(self.operations.values())} registers ({_counts(self.operations)}), "
            f"{sum(self.transfers.values())} transfers ({_counts(self.transfers)})",
            f"  unknown outcomes: {self.unknown}",
            f"  faults: {sum(self.faults.values())} ({_counts(self.faults)})",
            f"  actions: {sum(self.actions.values())} ({_counts(self.actions)})",
            f"  final term: {self.term}, common commit seqno: {self.commit_seqno}",
            *([f"  stopped on their own (see their node.log): {self.crashed}"] if self.crashed else []),
            *(f"  check: {line}" for line in self.checks),
            f"  seconds: {_counts({k: round(v, 1) for k, v in self.seconds.items()})}",
            "  fault log:",
            *(f"    {line}" for line in self.fault_log),
        ]
        return "\n".join(lines)


def _counts(counts: dict[str, int] | dict[str, float]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


class NemesisFailure(AssertionError):
    """A check failed (or the run could not finish) for `seed`; the message says how to replay it."""


def run_nemesis(seed: int, duration: float, root: Path, nodes: int = DEFAULT_NODES) -> NemesisReport:
    """Runs the nemesis on `nodes` nodes in a workspace under `root`; returns its report, or raises
    `NemesisFailure`."""
    replay = REPLAY.format(seed=seed, duration=duration, nodes=nodes)
    print(
        f"nemesis seed {seed}, {duration:g} s, {nodes} nodes; replay: {replay}",
        flush=True,
    )
    report = NemesisReport(seed, duration, nodes)
    try:
        _run(report, root, nodes)
    except Exception as failure:
        raise NemesisFailure(
            f"nemesis seed {seed} failed: {failure}\nreplay: {replay}\nworkspace: {root}\n" + report.summary()
        ) from failure
    return report


def _run(report: NemesisReport, root: Path, nodes: int) -> None:
    started = time.monotonic()
    cluster = Cluster.prepare(root, nodes)
    proxies = ProxyThread()
    with proxies:
        try:
            inbound, peers = proxied_peers(proxies, [f"node{i}" for i in range(nodes)])
            _bring_up_behind_proxies(cluster, peers)
            with cluster.client(timeout=30.0) as client:
                opening_total = open_accounts(client)
            report.seconds["bring up"] = time.monotonic() - started

            workload = Workload()
            report.crashed = _faults_under_load(report, cluster, proxies, inbound, workload)
            report.seconds["faults"] = time.monotonic() - started - report.seconds["bring up"]

            healed = time.monotonic()
            operations = _final_reads(cluster, workload)
            total = _converge(cluster, report)
            report.seconds["heal and converge"] = time.monotonic() - healed
        finally:
            cluster.stop()
    _count(report, operations, workload)
    checked = time.monotonic()
    failures = [
        failure
        for check in (
            lambda: checks.no_node_stopped_on_its_own(report.crashed),
            lambda: checks.history_linearizes(operations),
            lambda: checks.money_is_conserved(total, opening_total),
            lambda: _ledgers_agree(cluster, report),
            lambda: checks.acknowledged_writes_are_in_the_ledger(
                workload.acknowledged(), cluster.ledger_dir(cluster.names[0]), report.commit_seqno
            ),
        )
        if (failure := _run_check(check, report)) is not None
    ]
    report.seconds["checks"] = time.monotonic() - checked
    assert not failures, "\n".join(failures)


def _run_check(check: Callable[[], str], report: NemesisReport) -> str | None:
    """Runs every check even after one failed, so a report shows them all; the failure, if any."""
    try:
        report.checks.append(check())
    except AssertionError as failure:
        report.checks.append(f"FAILED: {str(failure).splitlines()[0]}")
        return str(failure)
    return None


def _ledgers_agree(cluster: Cluster, report: NemesisReport) -> str:
    """`Cluster.check_ledgers`; the commit index up to which the other checks read the ledger (node0's,
    when the ledgers disagree)."""
    report.commit_seqno = cluster.commit_seqno(cluster.names[0])
    report.commit_seqno = cluster.check_ledgers()
    return f"ledgers agree up to {report.commit_seqno} and verify"


def _bring_up_behind_proxies(cluster: Cluster, peers: dict[str, Endpoint]) -> None:
    """node0 starts the service; the others join it one by one, trusted by vote and waited for until they
    vote, each listening for peers behind its own proxy. (`Cluster.bring_up` gives its joiners picked peer
    ports, not `peers`.)"""
    first, *joiners = peers
    cluster.bring_up(1, {first: peers[first]})
    for name in joiners:
        cluster.join(name, cluster.join_address(first), peers[name])
        cluster.trust(name)
        _wait_until_a_voter(cluster, name)


def _wait_until_a_voter(cluster: Cluster, name: str) -> None:
    """A trusted node first catches up as a learner; the primary promotes it to voter as soon as it has
    (enclave/runtime/membership.py)."""
    cluster.wait_until(name, "the node to vote", lambda report: report.voter)


def _faults_under_load(
    report: NemesisReport,
    cluster: Cluster,
    proxies: ProxyThread,
    inbound: dict[str, Address],
    workload: Workload,
) -> list[str]:
    """Clients run while the schedule's faults are injected; then everything heals and the clients stop.
    Returns the nodes that stopped though the nemesis did not kill them (they are restarted too)."""
    names = cluster.names
    planned = steps(plan_faults(report.seed, report.duration, names))
    injector = FaultInjector(cluster, proxies, inbound, planned, report.duration)
    # Half the clients stay with one node (failing over only when it is unreachable): they keep the
    # majority busy while a primary is paused or cut off. The other half start each operation at a node
    # drawn at random, with a short timeout, so they keep sending requests to a deposed primary after the
    # new one has committed writes: where an unsafe read would be stale.
    rotations = [names[i:] + names[:i] for i in range(len(names))]
    clients = [
        WorkloadClient(
            number,
            report.seed,
            [cluster.client(order, PROBE_TIMEOUT_SECONDS) for order in rotations]
            if number % 2
            else [cluster.client(rotations[number // 2 % len(names)], CALL_TIMEOUT_SECONDS)],
            workload,
        )
        for number in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    injector.start()
    try:
        injector.join(timeout=report.duration + 30.0)
    finally:
        report.fault_log = injector.log
        crashed = injector.heal_everything()
        report.faults = {kind.name.lower(): count for kind, count in sorted(injector.faults.items(), key=str)}
        report.actions = {action.value: count for action, count in sorted(injector.done.items(), key=str)}
        for client in clients:
            client.stop_calling.set()
        for client in clients:
            client.join(timeout=4 * CALL_TIMEOUT_SECONDS)
    if injector.error is not None:
        raise injector.error
    stuck = [client.name for client in clients if client.is_alive()]
    assert not stuck, f"clients still calling after healing: {stuck}"
    return crashed


def _final_reads(cluster: Cluster, workload: Workload) -> list[Operation]:
    """A linearizable read of every register on the healed service, added to the history."""
    reader = ClientId(CLIENTS)
    with cluster.client(timeout=CONVERGE_SECONDS) as client:
        for key in KEYS:
            call = workload.history.call(reader, Kind.READ, key)
            workload.history.ok(call, client.get(REGISTERS, key).value)
    return workload.history.operations()


def _converge(cluster: Cluster, report: NemesisReport) -> int:
    """Waits until every node's commit reaches the primary's; the money the accounts hold then."""
    with cluster.client(timeout=CONVERGE_SECONDS) as client:
        total = total_money(client)
    primary = cluster.primary(CONVERGE_SECONDS)
    target = cluster.status(primary)
    assert target is not None, f"the primary {primary} does not answer"
    report.term = target.term
    for name in cluster.names:
        cluster.wait_commit_at_least(name, target.commit.seqno, CONVERGE_SECONDS)
    return total


def _count(report: NemesisReport, operations: list[Operation], workload: Workload) -> None:
    counted = collections.Counter(f"{op.kind.value} {op.outcome.value}" for op in operations)
    report.operations = dict(sorted(counted.items()))
    report.transfers = dict(sorted(workload.transfers.items()))
    report.unknown = sum(op.outcome is Outcome.UNKNOWN for op in operations) + workload.transfers["unknown"]
