"""The host side of the simulated platform: its files on disk, and the trusted code it measures.

Layout of a platform directory (the workspace's `platform/`):

    roots/<platform>_cert.pem        simulated vendor root certificates (what verifiers pin)
    roots/<platform>_privk.pem       their private keys (0600), needed only to provision machines
    machines/<name>/<platform>_cert.pem, <platform>_privk.pem (0600)   a machine's attestation identities
    machines/<name>/sealing_secret   the machine's 32-byte sealing secret (0600)

The enclave code is pure: this module reads and writes the bytes, `enclave.platform` does the rest.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

import consensus
import enclave
from enclave.crypto.certs import CertificateFormatError, certificate_pem, load_certificate_pem
from enclave.crypto.keys import IdentityKey, KeyFormatError, load_private_key_pem, private_key_pem
from enclave.platform.api import Measurement, Platform, PlatformName
from enclave.platform.backends import open_platform
from enclave.platform.measurement import TRUSTED_PACKAGES, is_measured, measure_trusted_code
from enclave.platform.provisioning import (
    MACHINE_NAME,
    MACHINE_NAME_RULE,
    AttestationIdentity,
    Machine,
    VendorRoot,
    create_vendor_roots,
    provision_machine,
)
from enclave.platform.sealing import SEALING_SECRET_SIZE
from node.files import DIRECTORY_MODE, PRIVATE_MODE, PUBLIC_MODE, create_file

ROOTS_DIR = "roots"
MACHINES_DIR = "machines"
SEALING_SECRET_FILE = "sealing_secret"


class PlatformFilesError(Exception):
    """A platform directory that cannot be used as asked; `code` is the CLI's stable error code."""

    code = "platform_files"


class PlatformDirMissing(PlatformFilesError):
    code = "not_found"


class NotInitialised(PlatformFilesError):
    code = "not_initialised"


class AlreadyInitialised(PlatformFilesError):
    code = "already_initialised"


class InvalidMachineName(PlatformFilesError):
    code = "invalid_name"


class MachineExists(PlatformFilesError):
    code = "machine_exists"


class MachineNotFound(PlatformFilesError):
    code = "machine_not_found"


class CorruptPlatformFile(PlatformFilesError):
    code = "corrupt_platform_file"


def root_certificate_path(directory: Path, platform: PlatformName) -> Path:
    return directory / ROOTS_DIR / f"{platform}_cert.pem"


def machine_dir(directory: Path, name: str) -> Path:
    return directory / MACHINES_DIR / name


def init_platform_dir(directory: Path, *, now: datetime | None = None) -> dict[PlatformName, Path]:
    """`sealchain platform init`: new simulated vendor roots for every backend; their certificate paths."""
    roots_dir = directory / ROOTS_DIR
    if directory.exists() and not directory.is_dir():
        raise PlatformDirMissing(f"{directory} is not a directory")
    if roots_dir.exists():
        raise AlreadyInitialised(f"{directory} already holds simulated vendor roots")
    roots = create_vendor_roots(now=now or datetime.now(UTC), random_bytes=os.urandom)
    directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    roots_dir.mkdir(mode=DIRECTORY_MODE)
    for platform, root in roots.items():
        create_file(
            root_certificate_path(directory, platform),
            certificate_pem(root.certificate).encode(),
            PUBLIC_MODE,
        )
        create_file(
            roots_dir / f"{platform}_privk.pem", private_key_pem(root.private_key).encode(), PRIVATE_MODE
        )
    return {platform: root_certificate_path(directory, platform) for platform in roots}


def provision_machine_dir(
    directory: Path, name: str, *, now: datetime | None = None
) -> dict[PlatformName, Path]:
    """`sealchain platform provision`: a machine's identities and sealing secret; its certificate paths."""
    if not MACHINE_NAME.fullmatch(name):
        raise InvalidMachineName(f"machine name {name!r}: {MACHINE_NAME_RULE}")
    roots = read_vendor_roots(directory)
    target = machine_dir(directory, name)
    if target.exists():
        raise MachineExists(f"machine {name!r} is already provisioned in {directory}")
    machine = provision_machine(name, roots, now=now or datetime.now(UTC), random_bytes=os.urandom)
    target.parent.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
    target.mkdir(mode=DIRECTORY_MODE)
    for platform, identity in machine.identities.items():
        create_file(
            target / f"{platform}_cert.pem", certificate_pem(identity.certificate).encode(), PUBLIC_MODE
        )
        create_file(
            target / f"{platform}_privk.pem", private_key_pem(identity.private_key).encode(), PRIVATE_MODE
        )
    create_file(target / SEALING_SECRET_FILE, machine.sealing_secret, PRIVATE_MODE)
    return {platform: target / f"{platform}_cert.pem" for platform in machine.identities}


def read_pinned_roots(directory: Path) -> dict[PlatformName, x509.Certificate]:
    """The vendor root certificates a verifier pins (`TrustPolicy.roots`); no private key is read."""
    _require_initialised(directory)
    return {platform: _certificate(root_certificate_path(directory, platform)) for platform in PlatformName}


def read_vendor_roots(directory: Path) -> dict[PlatformName, VendorRoot]:
    """The roots with their private keys, to provision machines."""
    _require_initialised(directory)
    return {
        platform: VendorRoot(
            platform,
            _private_key(directory / ROOTS_DIR / f"{platform}_privk.pem"),
            _certificate(root_certificate_path(directory, platform)),
        )
        for platform in PlatformName
    }


def read_machine(directory: Path, name: str) -> Machine:
    source = machine_dir(directory, name)
    if not MACHINE_NAME.fullmatch(name) or not source.is_dir():
        raise MachineNotFound(f"machine {name!r} is not provisioned in {directory}")
    identities = {
        platform: AttestationIdentity(
            platform,
            _private_key(source / f"{platform}_privk.pem"),
            _certificate(source / f"{platform}_cert.pem"),
        )
        for platform in PlatformName
        if (source / f"{platform}_cert.pem").exists()
    }
    sealing_secret = _read(source / SEALING_SECRET_FILE)
    if len(sealing_secret) != SEALING_SECRET_SIZE:
        raise CorruptPlatformFile(
            f"{source / SEALING_SECRET_FILE} is not a {SEALING_SECRET_SIZE}-byte secret"
        )
    return Machine(name, identities, sealing_secret)


def open_machine_platform(directory: Path, machine_name: str, platform: PlatformName) -> Platform:
    """The platform a node's enclave runs on: this machine's identity, the installed code's measurement."""
    machine = read_machine(directory, machine_name)
    if platform not in machine.identities:
        raise MachineNotFound(f"machine {machine_name!r} has no {platform} identity")
    return open_platform(platform, machine, trusted_code_measurement(), os.urandom)


def installed_source_root() -> Path:
    """The directory that holds the installed `enclave` and `consensus` packages."""
    roots = {Path(package.__path__[0]).resolve().parent for package in (enclave, consensus)}
    if len(roots) != 1:
        raise RuntimeError(f"the trusted packages are installed apart: {sorted(roots)}")
    return roots.pop()


def read_trusted_code(source_root: Path | None = None) -> list[tuple[str, bytes]]:
    """(relative posix path, bytes) of every measured file under `source_root` (default: installed code)."""
    root = source_root or installed_source_root()
    files = []
    for package in TRUSTED_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if is_measured(relative):
                files.append((relative, path.read_bytes()))
    return files


def trusted_code_measurement(source_root: Path | None = None) -> Measurement:
    """`sealchain platform measure`: what governance allows for nodes running this code."""
    return measure_trusted_code(read_trusted_code(source_root))


def _require_initialised(directory: Path) -> None:
    if not directory.is_dir():
        raise PlatformDirMissing(f"platform directory {directory} does not exist")
    if not all(root_certificate_path(directory, platform).exists() for platform in PlatformName):
        raise NotInitialised(f"{directory} has no vendor roots: run 'sealchain platform init {directory}'")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CorruptPlatformFile(f"{path} is missing") from None


def _certificate(path: Path) -> x509.Certificate:
    try:
        return load_certificate_pem(_read(path))
    except CertificateFormatError as error:
        raise CorruptPlatformFile(f"{path}: {error}") from None


def _private_key(path: Path) -> IdentityKey:
    try:
        return load_private_key_pem(_read(path))
    except KeyFormatError as error:
        raise CorruptPlatformFile(f"{path}: {error}") from None
