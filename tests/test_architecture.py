"""DESIGN.md section 3: dependencies point inward, and the trusted cores do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which of our top-level packages each package may import (itself included).
ALLOWED = {
    "consensus": {"consensus"},
    "enclave": {"enclave", "consensus"},
    "node": {"node", "enclave", "consensus", "proto"},
    "sealchain": {"sealchain", "node", "enclave", "consensus", "proto"},
}
OURS = set(ALLOWED) | {"proto"}

# Input in, effects out: the cores take time as ticks and randomness as an injected random.Random.
# (datetime values are fine for certificates; reading a clock is not, and code review catches .now())
IO_MODULES = {
    "asyncio",
    "socket",
    "threading",
    "time",
    "subprocess",
    "grpc",
    "lmdb",
    "os",
    "shutil",
    "tempfile",
    "logging",
    "select",
    "signal",
    "multiprocessing",
}
PURE_PACKAGES = {"consensus", "enclave"}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def package_sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_inward(package: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in package_sources(package)
        for name in sorted(imported_top_levels(path) & OURS)
        if name not in ALLOWED[package]
    ]
    assert violations == []


@pytest.mark.parametrize("package", sorted(PURE_PACKAGES))
def test_trusted_cores_do_no_io(package: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in package_sources(package)
        for name in sorted(imported_top_levels(path) & IO_MODULES)
    ]
    assert violations == []


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom sealchain.cli import main\nfrom . import sibling\n")
    assert imported_top_levels(bad) == {"time", "sealchain"}
