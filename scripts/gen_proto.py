"""Generates the Python modules for proto/sealchain/v1/*.proto (sealchain's API) and
proto/etcd/etcdserverpb/*.proto (the subset of etcd's API the benchmark calls) beside them (grpcio-tools).

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
PROTO_DIRS = (ROOT / "proto" / "sealchain" / "v1", ROOT / "proto" / "etcd" / "etcdserverpb")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(proto for directory in PROTO_DIRS for proto in directory.glob("*.proto"))


def generate(out_root: Path) -> list[Path]:
    """Runs protoc with the repository root as include path, so modules import as `proto.sealchain.v1`
    (and `proto.etcd.etcdserverpb`); the generated modules, by path relative to `out_root`."""
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
    return _generated_in(out_root)


def _generated_in(root: Path) -> list[Path]:
    """The generated modules under `root`'s copies of PROTO_DIRS, relative to `root`."""
    return sorted(
        (root / directory.relative_to(ROOT) / p.name).relative_to(root)
        for directory in PROTO_DIRS
        if (root / directory.relative_to(ROOT)).is_dir()
        for p in (root / directory.relative_to(ROOT)).iterdir()
        if p.name.endswith(GENERATED_SUFFIXES)
    )


def committed_modules() -> list[Path]:
    return _generated_in(ROOT)


def stale_modules() -> list[str]:
    """Names of generated modules that are missing, extra or different from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = set(generate(Path(tmp)))
        current = set(committed_modules())
        return [
            str(name)
            for name in sorted(fresh | current)
            if name not in fresh
            or name not in current
            or not filecmp.cmp(Path(tmp) / name, ROOT / name, shallow=False)
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
        (ROOT / old).unlink()
    with tempfile.TemporaryDirectory() as tmp:
        for fresh in generate(Path(tmp)):
            shutil.copyfile(Path(tmp) / fresh, ROOT / fresh)
            print(f"wrote {fresh}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
