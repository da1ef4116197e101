"""`sealchain keygen`: members and users create their own keys; private keys are theirs (0600)."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sealchain.cli import cli


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def keygen(workspace: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["keygen", *args, "--workspace", str(workspace), "--json"])
    return result.exit_code, result.stdout, result.stderr


def test_member_gets_signing_and_encryption_keys_readable_only_by_them(tmp_path: Path) -> None:
    code, out, _ = keygen(tmp_path, "member", "member0")
    assert code == 0
    result = json.loads(out)
    files = {label: Path(path) for label, path in result["files"].items()}

    assert mode_of(files["private_key"]) == 0o600
    assert mode_of(files["encryption_private_key"]) == 0o600
    assert mode_of(files["cert"]) == 0o644
    assert files["cert"] == tmp_path / "members" / "member0_cert.pem"

    cert = x509.load_pem_x509_certificate(files["cert"].read_bytes())
    assert result["id"] == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    key = serialization.load_pem_private_key(files["private_key"].read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP384R1)
    assert key.public_key() == cert.public_key()
    encryption_key = serialization.load_pem_private_key(
        files["encryption_private_key"].read_bytes(), password=None
    )
    assert isinstance(encryption_key, rsa.RSAPrivateKey)


def test_user_has_no_encryption_key(tmp_path: Path) -> None:
    code, out, _ = keygen(tmp_path, "user", "user0")
    assert code == 0
    assert set(json.loads(out)["files"]) == {"cert", "private_key"}
    assert sorted(p.name for p in (tmp_path / "users").iterdir()) == ["user0_cert.pem", "user0_privk.pem"]


def test_existing_identity_is_never_overwritten(tmp_path: Path) -> None:
    assert keygen(tmp_path, "member", "member0", "--no-encryption-key")[0] == 0
    key_before = (tmp_path / "members" / "member0_privk.pem").read_bytes()

    code, out, err = keygen(tmp_path, "member", "member0")

    assert code == 1
    assert out == ""
    assert json.loads(err)["error"] == "identity_exists"
    assert (tmp_path / "members" / "member0_privk.pem").read_bytes() == key_before


def test_a_name_that_could_escape_the_folder_is_refused(tmp_path: Path) -> None:
    code, _, err = keygen(tmp_path, "user", "../evil")
    assert code == 1
    assert json.loads(err)["error"] == "invalid_name"
    assert not (tmp_path.parent / "evil_privk.pem").exists()
