"""The host's platform files: roots and machines on disk, secrets 0600, and the trusted code measured."""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy, public_key_der
from enclave.platform.api import PlatformName
from enclave.platform.policy import TrustPolicy, report_data_for, verify_evidence
from node.platform_files import (
    AlreadyInitialised,
    CorruptPlatformFile,
    InvalidMachineName,
    MachineExists,
    MachineNotFound,
    NotInitialised,
    PlatformDirMissing,
    init_platform_dir,
    installed_source_root,
    machine_dir,
    open_machine_platform,
    provision_machine_dir,
    read_machine,
    read_pinned_roots,
    read_trusted_code,
    trusted_code_measurement,
)


@pytest.fixture
def platform_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "platform"
    init_platform_dir(directory)
    provision_machine_dir(directory, "node0-host")
    return directory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_keys_and_secrets_are_readable_only_by_the_owner(platform_dir: Path) -> None:
    files = [path for path in platform_dir.rglob("*") if path.is_file()]

    private = sorted(path.name for path in files if mode(path) == 0o600)
    public = sorted(path.name for path in files if mode(path) == 0o644)

    assert private == sorted(["sgx-sim_privk.pem", "vbs-sim_privk.pem"] * 2 + ["sealing_secret"])
    assert public == sorted(["sgx-sim_cert.pem", "vbs-sim_cert.pem"] * 2)


def test_a_provisioned_machine_attests_to_verifiers_that_pin_the_roots(platform_dir: Path) -> None:
    node_key = public_key_der(identity_key_from_entropy(bytes(range(MIN_ENTROPY_BYTES))).public_key())
    policy = TrustPolicy(
        roots=read_pinned_roots(platform_dir),
        allowed_measurements=frozenset({trusted_code_measurement()}),
    )

    for name in PlatformName:
        evidence = open_machine_platform(platform_dir, "node0-host", name).evidence(report_data_for(node_key))
        claims = verify_evidence(
            evidence, policy, identity_public_key_der=node_key, at=datetime.now(UTC) + timedelta(minutes=1)
        )
        assert claims.platform == name


def test_sealed_data_survives_a_restart_of_the_node(platform_dir: Path) -> None:
    sealed = open_machine_platform(platform_dir, "node0-host", PlatformName.SGX_SIM).seal(b"secret", b"ctx")

    restarted = open_machine_platform(platform_dir, "node0-host", PlatformName.SGX_SIM)

    assert restarted.unseal(sealed, b"ctx") == b"secret"


def test_a_machine_reads_back_as_it_was_written(platform_dir: Path) -> None:
    machine = read_machine(platform_dir, "node0-host")

    assert machine.name == "node0-host"
    assert set(machine.identities) == set(PlatformName)
    assert len(machine.sealing_secret) == 32


def test_init_refuses_an_initialised_directory(platform_dir: Path) -> None:
    before = sorted(platform_dir.rglob("*"))

    with pytest.raises(AlreadyInitialised):
        init_platform_dir(platform_dir)
    assert sorted(platform_dir.rglob("*")) == before


def test_provision_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PlatformDirMissing):
        provision_machine_dir(tmp_path / "nowhere", "m")


def test_provision_refuses_a_directory_without_roots(tmp_path: Path) -> None:
    with pytest.raises(NotInitialised):
        provision_machine_dir(tmp_path, "m")
    assert list(tmp_path.iterdir()) == []


def test_provision_refuses_an_existing_machine(platform_dir: Path) -> None:
    secret_before = (machine_dir(platform_dir, "node0-host") / "sealing_secret").read_bytes()

    with pytest.raises(MachineExists):
        provision_machine_dir(platform_dir, "node0-host")
    assert (machine_dir(platform_dir, "node0-host") / "sealing_secret").read_bytes() == secret_before


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 64])
def test_provision_refuses_a_name_that_is_not_a_plain_file_name(platform_dir: Path, name: str) -> None:
    with pytest.raises(InvalidMachineName):
        provision_machine_dir(platform_dir, name)


def test_reading_an_unknown_machine_fails(platform_dir: Path) -> None:
    with pytest.raises(MachineNotFound):
        read_machine(platform_dir, "node9-host")


def test_a_damaged_sealing_secret_is_reported(platform_dir: Path) -> None:
    (machine_dir(platform_dir, "node0-host") / "sealing_secret").write_bytes(b"short")

    with pytest.raises(CorruptPlatformFile):
        read_machine(platform_dir, "node0-host")


def test_a_damaged_certificate_is_reported(platform_dir: Path) -> None:
    (platform_dir / "roots" / "vbs-sim_cert.pem").write_text("not a certificate")

    with pytest.raises(CorruptPlatformFile):
        read_pinned_roots(platform_dir)


# The measurement of the trusted code


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    """A copy of the installed enclave/ and consensus/ packages, with their caches and data files."""
    installed = installed_source_root()
    for package in ("enclave", "consensus"):
        shutil.copytree(installed / package, tmp_path / "src" / package)
    return tmp_path / "src"


def test_only_the_python_sources_of_the_trusted_packages_are_read(source_copy: Path) -> None:
    paths = [path for path, _ in read_trusted_code(source_copy)]

    assert "enclave/platform/measurement.py" in paths
    assert "consensus/__init__.py" in paths
    assert all(path.endswith(".py") and "__pycache__" not in path for path in paths)


def test_one_changed_byte_of_trusted_code_changes_the_measurement(source_copy: Path) -> None:
    before = trusted_code_measurement(source_copy)
    target = source_copy / "enclave" / "platform" / "sealing.py"
    content = bytearray(target.read_bytes())
    content[-2] ^= 0x01
    target.write_bytes(bytes(content))

    assert trusted_code_measurement(source_copy) != before


def test_caches_and_non_python_files_do_not_change_the_measurement(source_copy: Path) -> None:
    before = trusted_code_measurement(source_copy)
    (source_copy / "enclave" / "__pycache__").mkdir(exist_ok=True)
    (source_copy / "enclave" / "__pycache__" / "stale.cpython-311.py").write_text("x = 1\n")
    (source_copy / "enclave" / "notes.txt").write_text("not code\n")

    assert trusted_code_measurement(source_copy) == before
