"""The `sealchain` entry point: help everywhere, and unbuilt verbs fail loudly."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from sealchain.cli import cli


def test_help_lists_the_verb_groups() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for verb in ("network", "node", "tx", "gov", "ledger", "receipt", "platform", "keygen", "bench"):
        assert verb in result.output


def test_python_dash_m_runs_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sealchain", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "confidential consortium ledger" in result.stdout


def test_unknown_verb_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
