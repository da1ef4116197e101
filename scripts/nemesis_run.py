"""`scripts/nemesis`: one nemesis run on a fresh local 3-node network (tests/nemesis/run.py, docs/testing.md).

    scripts/nemesis --duration 60 --seed 7      # replays seed 7; without --seed, a random seed (printed)

Exits 0 when every check passed, 1 (with the seed and the replay command) when one failed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import traceback
from dataclasses import asdict
from pathlib import Path

from tests.nemesis.run import NemesisFailure, run_nemesis


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/nemesis", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="the schedule's and clients' seed (default: random)"
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of faults under load (default 60)"
    )
    parser.add_argument("--nodes", type=int, default=3, help="how many nodes, 3 or more (default 3)")
    parser.add_argument(
        "--workspace", type=Path, default=None, help="where the nodes live (default: a temporary folder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the workspace after a run that passed")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    options = parser.parse_args()
    if options.nodes < 3:
        parser.error("--nodes: a faulty node needs at least 3 nodes, so that a majority is left")
    seed = random.SystemRandom().randrange(2**32) if options.seed is None else options.seed
    root = options.workspace or Path(tempfile.mkdtemp(prefix=f"nemesis-{seed}-"))
    try:
        report = run_nemesis(seed, options.duration, root, options.nodes)
    except NemesisFailure as failure:
        if not isinstance(failure.__cause__, AssertionError):  # not a failed check: where it broke
            traceback.print_exception(failure.__cause__)
        print(failure, file=sys.stderr)
        return 1
    print(report.summary())
    if options.json is not None:
        options.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    if not options.keep and options.workspace is None:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
