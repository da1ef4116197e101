"""`sealchain bench` (`scripts/bench`): throughput and latency of a fresh local network, optionally side by
side with a 3-member etcd cluster (DESIGN.md section 9)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from node.config import ConsensusSettings
from node.network import NetworkError
from sealchain.benchmark.plot import PlotUnavailable, check_plotting, write_plot
from sealchain.benchmark.report import print_report, write_json
from sealchain.benchmark.runner import BenchSettings, run_benchmark
from sealchain.benchmark.systems import SystemUnavailable
from sealchain.benchmark.workloads import Workload
from sealchain.cli.errors import CliError
from sealchain.client import ClientError

QUICK_CONCURRENCIES = (1, 64)
QUICK_SECONDS = 5.0
FULL_SECONDS = 10.0
FULL_CONCURRENCIES = (1, 16, 64, 256)
REPORT_WIDTH = 140
DEFAULTS = ConsensusSettings()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so every node and etcd member this command started is stopped."""
    sys.exit(128 + signum)


@click.command("bench")
@click.option("--quick", is_flag=True, help=f"Concurrencies {QUICK_CONCURRENCIES}, {QUICK_SECONDS:g}s each.")
@click.option("--vs-etcd", is_flag=True, help="Also run every KV workload against a 3-member etcd cluster.")
@click.option(
    "--workload",
    "workloads",
    multiple=True,
    type=click.Choice([w.value for w in Workload]),
    help="Only these workloads (repeat the option); default: all.",
)
@click.option(
    "--concurrency",
    "concurrencies",
    multiple=True,
    type=click.IntRange(1, 4096),
    help="Outstanding requests (repeatable); default 1, 16, 64, 256.",
)
@click.option("--duration", type=click.FloatRange(0.5, 3600), help="Measured seconds per run.")
@click.option("--warmup", type=click.FloatRange(0, 60), help="Unmeasured seconds before each run.")
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option(
    "--first-node-only",
    is_flag=True,
    help="Every client talks to the first node (as sealchain's Client does) instead of spreading the "
    "clients over every node (as etcd's client does; the default, for both systems).",
)
@click.option(
    "--unary-calls",
    is_flag=True,
    help="sealchain's clients make one unary gRPC call per request (as Client does) instead of sharing "
    "one Client.Stream per node and process (as StreamingClient does; the default). etcd's always make "
    "unary calls, as its own client does.",
)
@click.option(
    "--client-processes",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="At most this many load generator processes (one per 64 outstanding requests).",
)
@click.option(
    "--tick-ms",
    default=DEFAULTS.tick_interval_ms,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="The nodes' tick interval.",
)
@click.option(
    "--election-ticks",
    default=DEFAULTS.election_ticks,
    show_default=True,
    type=click.IntRange(2, 10_000),
    help="The nodes' election timeout, in ticks.",
)
@click.option(
    "--signature-ms",
    default=DEFAULTS.signature_interval_ms,
    show_default=True,
    type=click.IntRange(1, 60_000),
    help="A signature transaction at least this often (the primary also signs whenever none is in flight).",
)
@click.option(
    "--signature-txs",
    default=DEFAULTS.signature_interval_txs,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="... or after this many transactions.",
)
@click.option(
    "--max-inflight-appends",
    default=DEFAULTS.max_inflight_appends,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Unacknowledged AppendEntries per follower (Raft's pipelining window).",
)
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw throughput against latency per workload into this PNG (needs the plot extra: matplotlib).",
)
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write every figure."
)
def bench(
    *,
    quick: bool,
    vs_etcd: bool,
    workloads: tuple[str, ...],
    concurrencies: tuple[int, ...],
    duration: float | None,
    warmup: float | None,
    nodes: int,
    client_processes: int,
    first_node_only: bool,
    unary_calls: bool,
    tick_ms: int,
    election_ticks: int,
    signature_ms: int,
    signature_txs: int,
    max_inflight_appends: int,
    json_file: Path | None,
    plot_file: Path | None,
) -> None:
    """Benchmark a fresh local network: committed requests per second and latency percentiles.

    Starts a new network in a temporary folder (3 nodes, fsync on, TLS on: the settings of
    scripts/sandbox) and drives it through the gRPC client API with an asyncio load generator (sealchain's
    requests on Client.Stream, as StreamingClient makes them; see --unary-calls): a closed
    loop of N outstanding requests for a fixed time per concurrency, spread over several client
    processes when one would saturate a core. Workloads: puts (100-byte values to a private map, each
    waiting for commit), gets (linearizable) and smallbank (the standard mix). Prints p50/p90/p99/max
    latency, the failures, the client and server CPU, and checks at the end that every acknowledged write
    is there. --vs-etcd runs the same load against a 3-member etcd cluster on loopback with mutual TLS
    like sealchain's (installing the etcd-server package if it is missing) interleaved with sealchain's
    runs, and prints the ratios; etcd has no stored procedures, so its clients run SmallBank's as
    read-then-compare-and-write transactions.
    The consensus options change the nodes' settings from the defaults (scripts/sandbox's) to explore
    them; docs/performance.md has the figures. Everything it starts is stopped on exit, Ctrl-C
    included."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if plot_file is not None:
        try:
            check_plotting()
        except PlotUnavailable as error:
            raise CliError("plot_unavailable", str(error)) from None
    default_seconds, default_concurrencies = (
        (QUICK_SECONDS, QUICK_CONCURRENCIES) if quick else (FULL_SECONDS, FULL_CONCURRENCIES)
    )
    seconds = duration or default_seconds
    settings = BenchSettings(
        nodes=nodes,
        workloads=tuple(Workload(w) for w in workloads) or tuple(Workload),
        concurrencies=concurrencies or default_concurrencies,
        seconds=seconds,
        warmup_seconds=warmup if warmup is not None else min(2.0, seconds / 5),
        vs_etcd=vs_etcd,
        max_client_processes=client_processes,
        first_node_only=first_node_only,
        unary_calls=unary_calls,
        consensus=ConsensusSettings(
            tick_interval_ms=tick_ms,
            election_ticks=election_ticks,
            signature_interval_ms=signature_ms,
            signature_interval_txs=signature_txs,
            max_inflight_appends=max_inflight_appends,
        ),
    )
    # A table wider than a pipe's default 80 columns stays readable in logs and notes.
    console = Console() if sys.stdout.isatty() else Console(width=REPORT_WIDTH)
    try:
        figures = run_benchmark(settings, console)
    except (NetworkError, SystemUnavailable) as error:
        raise CliError(getattr(error, "code", "bench_failed"), str(error)) from None
    except ClientError as error:
        raise CliError(error.code, f"opening the service failed: {error.message}") from None
    print_report(console, figures, settings.describe())
    if json_file is not None:
        write_json(json_file, figures, settings.describe())
        console.print(f"figures written to {json_file}")
    if plot_file is not None:
        write_plot(plot_file, figures)
        console.print(f"plot written to {plot_file}")
    if any(run.failed or run.lost for run in figures):
        raise CliError("bench_errors", "some requests failed or acknowledged writes were lost (see above)")
