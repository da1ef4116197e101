"""One node's metrics in the Prometheus text format (issue 5: requests, commit latency, term, commit
index, ledger size), for the operator's `/metrics` endpoint and the operator API's `Metrics` call.

Each host owns a `NodeMetrics` with its own `CollectorRegistry`, never prometheus_client's global one:
several hosts run in one test process, and a node's figures must be its own. The host records what it
already does (an input handled, an effect carried out, a client call answered); the figures that are
cheaper to read than to track (queued inputs, ledger bytes on disk, peer link errors) are read when
scraped. A scrape runs on the HTTP server's thread: it reads only plain ints, a deque's length and the
ledger directory's file sizes, never a structure the event loop rewrites in place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from enclave.runtime import messages as m

# Seconds from a write's arrival to its Committed answer: a tick-driven commit takes milliseconds to a
# few hundred; the top bucket is the host's call timeout (`host.CALL_TIMEOUT_SECONDS`).
COMMIT_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OK = "ok"


def ledger_bytes_on_disk(directory: Path) -> int:
    """The size of the ledger chunk files. A chunk renamed or removed while this reads (the event loop
    completes and truncates chunks) is skipped: the next scrape sees it under its new name."""
    total = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    return total


class _ReadWhenScraped(Collector):
    """Figures read at scrape time rather than tracked on every change."""

    def __init__(
        self, ledger_dir: Path, queued_inputs: Callable[[], int], peer_link_errors: Callable[[], int]
    ) -> None:
        self._ledger_dir = ledger_dir
        self._queued_inputs = queued_inputs
        self._peer_link_errors = peer_link_errors

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "sealchain_ledger_bytes",
            "Bytes of ledger chunk files on disk",
            ledger_bytes_on_disk(self._ledger_dir),
        )
        yield GaugeMetricFamily(
            "sealchain_queued_inputs", "Inputs waiting for the enclave", self._queued_inputs()
        )
        yield CounterMetricFamily(
            "sealchain_peer_link_errors",
            "Failed connections or sends to peers",
            self._peer_link_errors(),
        )


class _CountByType:
    """A counter labelled by message type, for a label met on every input or effect: the children are
    kept, since `labels()` validates and takes a lock each time (three times the cost of `inc`)."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._children: dict[str, Counter] = {}

    def inc(self, type_name: str) -> None:
        child = self._children.get(type_name)
        if child is None:
            child = self._children[type_name] = self._counter.labels(type_name)
        child.inc()


def outcome_of(result: m.CallResult) -> str:
    """`ok`, or the `ErrorCode` the call was refused with (its wire name, e.g. `NotPrimary`)."""
    return result.code.value if isinstance(result, m.CallError) else OK


def waits_for_commit(call: m.ClientCall) -> bool:
    return isinstance(call, m.Put | m.Delete) and call.wait_for_commit


class NodeMetrics:
    """The metrics of one node, in a registry of its own (`registry`)."""

    def __init__(
        self,
        ledger_dir: Path,
        queued_inputs: Callable[[], int],
        peer_link_errors: Callable[[], int],
        *,
        last_seqno: int = 0,
        committed_seqno: int = 0,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._inputs = _CountByType(
            Counter("sealchain_inputs", "Inputs handed to the enclave", ["type"], registry=registry)
        )
        self._effects = _CountByType(
            Counter("sealchain_effects", "Effects carried out for the enclave", ["type"], registry=registry)
        )
        self._requests = Counter(
            "sealchain_client_requests",
            "Client calls answered, by call type and outcome (ok, or the error code)",
            ["type", "outcome"],
            registry=registry,
        )
        self._commit_latency = Histogram(
            "sealchain_commit_latency_seconds",
            "From a write's arrival at this node to its Committed answer (writes that wait for commit)",
            buckets=COMMIT_LATENCY_BUCKETS,
            registry=registry,
        )
        self._ledger_appended = Counter(
            "sealchain_ledger_appended_bytes", "Ledger entry bytes appended", registry=registry
        )
        self._fsyncs = Counter(
            "sealchain_fsyncs",
            "Durability barriers carried out: one fsync for the Flushes of a group of inputs",
            registry=registry,
        )
        self._term = Gauge("sealchain_raft_term", "The Raft term this node last persisted", registry=registry)
        self._last_seqno = Gauge(
            "sealchain_ledger_last_seqno", "The last seqno in this node's ledger", registry=registry
        )
        self._committed_seqno = Gauge(
            "sealchain_ledger_committed_seqno",
            "The ledger's commit seqno (the last committed signature transaction)",
            registry=registry,
        )
        self._last_seqno.set(last_seqno)
        self._committed_seqno.set(committed_seqno)
        registry.register(_ReadWhenScraped(ledger_dir, queued_inputs, peer_link_errors))

    def fsynced(self) -> None:
        self._fsyncs.inc()

    def input_handled(self, input_type: str) -> None:
        self._inputs.inc(input_type)

    def effect_carried_out(self, effect: m.Effect) -> None:
        """Counts the effect, and follows the ledger and Raft figures it carries."""
        self._effects.inc(type(effect).__name__)
        match effect:
            case m.AppendLedger(seqno, raw, _):
                self._ledger_appended.inc(len(raw))
                self._last_seqno.set(seqno)
            case m.TruncateLedger(keep_up_to_seqno):
                self._last_seqno.set(keep_up_to_seqno)
            case m.CommitLedger(seqno):
                self._committed_seqno.set(seqno)
            case m.SnapshotInstalled(seqno, _, _):
                self._last_seqno.set(seqno)
                self._committed_seqno.set(seqno)
            case m.PersistRaftState(term, _, _) | m.NodeStatusReport(term=term):
                self._term.set(term)
            case _:
                pass

    def client_call_answered(self, call: m.ClientCall, result: m.CallResult, seconds: float) -> None:
        """Counts the call; a write that waited for commit and was Committed adds its latency."""
        self._requests.labels(type(call).__name__, outcome_of(result)).inc()
        if (
            waits_for_commit(call)
            and isinstance(result, m.WriteResult)
            and result.status is m.TxStatus.COMMITTED
        ):
            self._commit_latency.observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text exposition format (0.0.4) of this node's registry."""
        return generate_latest(self.registry)
