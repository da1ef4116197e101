"""The `sealchain` command: one click group per verb family (DESIGN.md section 7)."""

from __future__ import annotations

import click

from sealchain.cli.bench import bench
from sealchain.cli.gov import gov
from sealchain.cli.keygen import keygen
from sealchain.cli.ledger import ledger
from sealchain.cli.network import network
from sealchain.cli.node import node
from sealchain.cli.platform import platform
from sealchain.cli.receipt import receipt
from sealchain.cli.tx import tx


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sealchain")
def cli() -> None:
    """sealchain: a confidential consortium ledger.

    Run a local network, submit transactions, govern the service and audit its ledger.
    Every command takes --help; commands whose output scripts read take --json.
    """


for group in (network, node, tx, gov, ledger, receipt, platform, keygen, bench):
    cli.add_command(group)


def main() -> None:
    cli(prog_name="sealchain")
