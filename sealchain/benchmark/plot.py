"""`--plot FILE.png`: throughput against latency per workload, one line per system and percentile, each
point labelled with its concurrency. Needs matplotlib (the `plot` extra: `pip install 'sealchain[plot]'`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sealchain.benchmark.figures import RunFigures


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def check_plotting() -> None:
    """Fails before a long run rather than after it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'sealchain[plot]'") from None


def write_plot(path: Path, figures: Sequence[RunFigures]) -> None:
    check_plotting()
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot

    workloads = list(dict.fromkeys(run.workload for run in figures))
    systems = list(dict.fromkeys(run.system for run in figures))
    figure, axes = pyplot.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 4.5), squeeze=False)
    for axis, workload in zip(axes[0], workloads, strict=True):
        for system in systems:
            runs = sorted(
                (run for run in figures if (run.workload, run.system) == (workload, system)),
                key=lambda run: run.concurrency,
            )
            if not runs:
                continue
            throughput = [run.throughput for run in runs]
            (line,) = axis.plot(throughput, [run.p50_ms for run in runs], marker="o", label=f"{system} p50")
            axis.plot(
                throughput,
                [run.p99_ms for run in runs],
                marker="x",
                linestyle="--",
                color=line.get_color(),
                label=f"{system} p99",
            )
            for run in runs:
                axis.annotate(
                    str(run.concurrency),
                    (run.throughput, run.p50_ms),
                    textcoords="offset points",
                    xytext=(4, 4),
                )
        axis.set_title(f"{workload} (points: concurrency)")
        axis.set_xlabel("requests per second")
        axis.set_ylabel("latency, ms")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
