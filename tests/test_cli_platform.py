"""`sealchain platform init|provision|measure`, as an operator uses them."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

from click.testing import CliRunner

from node.platform_files import installed_source_root, trusted_code_measurement
from sealchain.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["platform", *args])
    return result.exit_code, result.stdout, result.stderr


def test_init_then_provision_creates_roots_and_a_machine(tmp_path: Path) -> None:
    directory = tmp_path / "platform"

    init_code, init_out, _ = run("init", str(directory), "--json")
    provision_code, provision_out, _ = run("provision", str(directory), "--machine", "node0", "--json")

    assert (init_code, provision_code) == (0, 0)
    assert set(json.loads(init_out)["roots"]) == {"sgx-sim", "vbs-sim"}
    certificates = json.loads(provision_out)["certificates"]
    assert all(Path(path).read_text().startswith("-----BEGIN CERTIFICATE") for path in certificates.values())
    machine = directory / "machines" / "node0"
    for secret in ["sgx-sim_privk.pem", "vbs-sim_privk.pem", "sealing_secret"]:
        assert stat.S_IMODE((machine / secret).stat().st_mode) == 0o600
    for secret in ["sgx-sim_privk.pem", "vbs-sim_privk.pem"]:
        assert stat.S_IMODE((directory / "roots" / secret).stat().st_mode) == 0o600


def test_nothing_secret_is_printed(tmp_path: Path) -> None:
    _, init_out, _ = run("init", str(tmp_path / "p"))
    _, provision_out, _ = run("provision", str(tmp_path / "p"), "--machine", "node0")

    secret = (tmp_path / "p" / "machines" / "node0" / "sealing_secret").read_bytes()
    for output in (init_out, provision_out):
        assert "PRIVATE KEY" not in output
        assert secret.hex() not in output
    assert "sealchain platform provision" in init_out


def test_init_twice_fails_and_keeps_the_roots(tmp_path: Path) -> None:
    run("init", str(tmp_path / "p"))
    root = (tmp_path / "p" / "roots" / "sgx-sim_cert.pem").read_bytes()

    code, _, err = run("init", str(tmp_path / "p"))

    assert code == 1
    assert "already holds simulated vendor roots" in err
    assert (tmp_path / "p" / "roots" / "sgx-sim_cert.pem").read_bytes() == root


def test_provision_in_a_missing_directory_fails(tmp_path: Path) -> None:
    code, _, err = run("provision", str(tmp_path / "nowhere"), "--machine", "node0")

    assert code == 1
    assert "does not exist" in err


def test_provision_before_init_fails_and_says_what_to_run(tmp_path: Path) -> None:
    code, _, err = run("provision", str(tmp_path), "--machine", "node0")

    assert code == 1
    assert f"sealchain platform init {tmp_path}" in err


def test_provisioning_a_machine_twice_fails(tmp_path: Path) -> None:
    run("init", str(tmp_path / "p"))
    run("provision", str(tmp_path / "p"), "--machine", "node0")

    code, _, err = run("provision", str(tmp_path / "p"), "--machine", "node0")

    assert code == 1
    assert "already provisioned" in err


def test_provision_without_a_machine_name_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("provision", str(tmp_path))

    assert code == 2
    assert "--machine" in err


def test_measure_prints_the_measurement_of_the_installed_trusted_code() -> None:
    code, out, _ = run("measure")

    assert code == 0
    assert bytes.fromhex(out.strip()) == trusted_code_measurement()


def test_measure_a_source_tree_as_json(tmp_path: Path) -> None:
    for package in ("enclave", "consensus"):
        shutil.copytree(installed_source_root() / package, tmp_path / package)

    code, out, _ = run("measure", "--source", str(tmp_path), "--json")

    assert code == 0
    result = json.loads(out)
    assert result["measurement"] == trusted_code_measurement(tmp_path).hex()
    assert result["files"] > 10


def test_measure_a_directory_without_trusted_code_fails(tmp_path: Path) -> None:
    code, _, err = run("measure", "--source", str(tmp_path))

    assert code == 1
    assert "no trusted code" in err


def test_every_platform_verb_explains_itself() -> None:
    for verb in ("init", "provision", "measure"):
        code, out, _ = run(verb, "--help")
        assert code == 0
        assert "Usage:" in out
