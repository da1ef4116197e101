"""Generates the Python modules for proto/sealchain/v1/*.proto beside them (grpcio-tools).

`--check` regenerates into a temporary folder and exits 1 when the committed modules differ, which is
how the test suite notices stale generated code.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto" / "sealchain" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out_root: Path) -> list[Path]:
    """Runs protoc with the repository root as include path, so modules import as `proto.sealchain.v1`."""
    include = str(ROOT)
    grpc_include = str(Path(protoc.__file__).parent / "_proto")
    for proto in proto_files():
        relative = proto.relative_to(ROOT)
        status = protoc.main(
            [
                "protoc",
                f"-I{include}",
                f"-I{grpc_include}",
                f"--python_out={out_root}",
                f"--pyi_out={out_root}",
                f"--grpc_python_out={out_root}",
                str(relative),
            ]
        )
        if status != 0:
            raise SystemExit(f"protoc failed on {relative}")
    out_dir = out_root / PROTO_DIR.relative_to(ROOT)
    return sorted(p for p in out_dir.iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def committed_modules() -> list[Path]:
    return sorted(p for p in PROTO_DIR.iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def stale_modules() -> list[str]:
    """Names of generated modules that are missing, extra or different from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p for p in generate(Path(tmp))}
        current = {p.name: p for p in committed_modules()}
        names = sorted(set(fresh) | set(current))
        return [
            name
            for name in names
            if name not in fresh
            or name not in current
            or not filecmp.cmp(fresh[name], current[name], shallow=False)
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report whether generated code is stale")
    args = parser.parse_args()
    if args.check:
        stale = stale_modules()
        if stale:
            print("stale generated protobuf code (run scripts/gen-proto): " + ", ".join(stale))
            return 1
        print("generated protobuf code is up to date")
        return 0
    for old in committed_modules():
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        for fresh in generate(Path(tmp)):
            shutil.copyfile(fresh, PROTO_DIR / fresh.name)
            print(f"wrote {(PROTO_DIR / fresh.name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
