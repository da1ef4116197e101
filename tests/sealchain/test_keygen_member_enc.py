"""`sealchain keygen member NAME [--enc]`: the issue's spelling of the encryption key choice, beside the
original `--encryption-key/--no-encryption-key`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sealchain.cli import cli


@pytest.mark.parametrize(
    ("flag", "has_encryption_key"),
    [
        ("--enc", True),
        ("--no-enc", False),
        ("--encryption-key", True),
        ("--no-encryption-key", False),
    ],
)
def test_both_spellings_choose_the_encryption_key(
    tmp_path: Path, flag: str, has_encryption_key: bool
) -> None:
    result = CliRunner().invoke(
        cli, ["keygen", "member", "member3", flag, "--workspace", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert ("encryption_public_key" in files) is has_encryption_key
    assert (tmp_path / "members" / "member3_enc_privk.pem").exists() is has_encryption_key
