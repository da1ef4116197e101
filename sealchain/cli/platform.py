"""`sealchain platform`: the simulated TEEs' vendor roots, machine identities and code measurement."""

from __future__ import annotations

import json
from pathlib import Path

import click

from enclave.platform.measurement import measure_trusted_code
from node.platform_files import (
    PlatformFilesError,
    init_platform_dir,
    provision_machine_dir,
    read_trusted_code,
)
from sealchain.cli.errors import CliError, json_option

DIRECTORY = click.Path(path_type=Path, file_okay=False)


@click.group("platform")
def platform() -> None:
    """The simulated TEE platforms, sgx-sim and vbs-sim.

    Real TEEs come with a vendor's root of trust; the simulation makes its own. Create the simulated
    vendor roots once (init), give each machine that runs nodes an attestation identity (provision),
    and print the measurement of the trusted code for governance to allow (measure).
    """


@platform.command("init")
@click.argument("directory", type=DIRECTORY)
@json_option
def init(directory: Path, json_output: bool) -> None:
    """Create simulated vendor roots for both backends in DIRECTORY (created if missing).

    Writes roots/<platform>_cert.pem (what verifiers pin) and roots/<platform>_privk.pem (0600, used
    only by provision). Fails if DIRECTORY already holds roots.
    """
    try:
        certificates = init_platform_dir(directory)
    except PlatformFilesError as error:
        raise CliError(error.code, str(error)) from None
    if json_output:
        paths = {str(name): str(path) for name, path in certificates.items()}
        _print_json({"directory": str(directory), "roots": paths})
        return
    click.echo(f"Created simulated vendor roots in {directory}:")
    for name, path in certificates.items():
        click.echo(f"  {name}: {path}")
    click.echo(f"Next: sealchain platform provision {directory} --machine NAME")


@platform.command("provision")
@click.argument("directory", type=DIRECTORY)
@click.option("--machine", "machine_name", required=True, help="The machine's name, e.g. node0's host.")
@json_option
def provision(directory: Path, machine_name: str, json_output: bool) -> None:
    """Provision one machine in an initialised DIRECTORY.

    Creates machines/NAME/ with the machine's sgx-sim attestation key and vbs-sim hypervisor signing
    key (each certified by its vendor root) and its sealing secret; private files are 0600 and nothing
    secret is printed.
    """
    try:
        certificates = provision_machine_dir(directory, machine_name)
    except PlatformFilesError as error:
        raise CliError(error.code, str(error)) from None
    if json_output:
        _print_json(
            {"machine": machine_name, "certificates": {str(k): str(v) for k, v in certificates.items()}}
        )
        return
    click.echo(f"Provisioned machine {machine_name!r}:")
    for name, path in certificates.items():
        click.echo(f"  {name}: {path}")


@platform.command("measure")
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Measure the enclave/ and consensus/ packages under this directory instead of the installed ones.",
)
@json_option
def measure(source: Path | None, json_output: bool) -> None:
    """Print the measurement (hex SHA-256) of the trusted code.

    This is the value members propose to allow through governance; both backends report it (sgx-sim
    as MRENCLAVE, vbs-sim as the image measurement).
    """
    files = read_trusted_code(source)
    if not files:
        raise CliError("not_found", f"no trusted code (enclave/, consensus/) under {source}")
    measurement = measure_trusted_code(files).hex()
    if json_output:
        _print_json({"measurement": measurement, "files": len(files)})
    else:
        click.echo(measurement)


def _print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))
