"""The benchmark's output: a table per workload (and the sealchain/etcd ratios) and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sealchain.benchmark.figures import RunFigures

SEALCHAIN = "sealchain"
ETCD = "etcd"


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def figures_table(figures: Sequence[RunFigures], title: str) -> Table:
    table = Table(title=title)
    for column in ("workload", "system", "clients", "tx/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column in ("workload", "system") else "right")
    table.add_column("failed", justify="right")
    table.add_column("lost", justify="right")
    table.add_column("client CPU", justify="right")
    table.add_column("server CPU", justify="right")
    for run in figures:
        table.add_row(
            run.workload,
            run.system,
            str(run.concurrency),
            f"{run.throughput:,.0f}",
            f"{run.p50_ms:.1f}",
            f"{run.p90_ms:.1f}",
            f"{run.p99_ms:.1f}",
            f"{run.max_ms:.1f}",
            str(run.failed) if run.failed == 0 else f"[red]{run.failed}[/red]",
            "0" if not run.lost else "[red]yes[/red]",
            f"{run.client_cpu_percent:.0f}% ({run.client_processes}p)",
            f"{run.server_cpu_percent:.0f}%",
        )
    return table


def ratio_table(figures: Sequence[RunFigures]) -> Table | None:
    """sealchain/etcd per workload and concurrency, where both ran."""
    by_key = {(run.workload, run.concurrency, run.system): run for run in figures}
    table = Table(title="sealchain / etcd")
    for column in ("workload", "clients", "throughput", "p50 latency", "p99 latency"):
        table.add_column(column, justify="left" if column == "workload" else "right")
    rows = 0
    for (workload, concurrency, system), ours in by_key.items():
        theirs = by_key.get((workload, concurrency, ETCD))
        if system != SEALCHAIN or theirs is None:
            continue
        rows += 1
        table.add_row(
            workload,
            str(concurrency),
            _times(ratio(ours.throughput, theirs.throughput)),
            _times(ratio(ours.p50_ms, theirs.p50_ms)),
            _times(ratio(ours.p99_ms, theirs.p99_ms)),
        )
    return table if rows else None


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def print_report(console: Console, figures: Sequence[RunFigures], settings: dict[str, Any]) -> None:
    description = ", ".join(f"{key} {value}" for key, value in settings.items())
    console.print(figures_table(figures, f"Committed requests per second and latency ({description})"))
    ratios = ratio_table(figures)
    if ratios is not None:
        console.print(ratios)
    for run in figures:
        name = f"{run.system} {run.workload} x{run.concurrency}"
        for code, count in run.failures.items():
            console.print(f"[red]{name}: {count} failed: {code} ({run.failure_examples.get(code)})[/red]")
        for finding in run.lost:
            console.print(f"[red]{name}: {finding}[/red]")


def write_json(path: Path, figures: Sequence[RunFigures], settings: dict[str, Any]) -> None:
    document = {
        "settings": settings,
        "runs": [asdict(run) | {"failed": run.failed} for run in figures],
        "ratios": [
            {
                "workload": ours.workload,
                "concurrency": ours.concurrency,
                "throughput": ratio(ours.throughput, theirs.throughput),
                "p50": ratio(ours.p50_ms, theirs.p50_ms),
                "p99": ratio(ours.p99_ms, theirs.p99_ms),
            }
            for ours in figures
            if ours.system == SEALCHAIN
            for theirs in figures
            if theirs.system == ETCD
            and (theirs.workload, theirs.concurrency) == (ours.workload, ours.concurrency)
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
