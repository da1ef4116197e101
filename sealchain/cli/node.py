"""`sealchain node start --config FILE`: run one node in the foreground (DESIGN.md section 7)."""

from __future__ import annotations

from pathlib import Path

import click

from node.config import ConfigError, load_config
from sealchain.cli.errors import CliError


@click.group("node")
def node() -> None:
    """Run one node of a sealchain network."""


@node.command("start")
@click.option(
    "--config",
    "config_file",
    required=True,
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The node's TOML config file (mode start, join or recover).",
)
def start(config_file: Path) -> None:
    """Start the node of FILE and serve until SIGTERM or Ctrl-C.

    Mode "start" creates a new service, "join" joins the service at the config's join target; a node
    that has run before restarts from its own ledger, Raft state and sealed secrets. Picked ports (0)
    are written back to FILE. The node logs to its log file, one JSON object per line."""
    try:
        load_config(config_file)  # report a bad config here, before anything is created
    except ConfigError as error:
        raise CliError("invalid_config", str(error)) from None
    # Imported here: the node's runtime (enclave, gRPC servers) is not needed by the other verbs.
    from node.host import StartupError
    from node.main import NodeStartError, run_node
    from node.rpc.servers import ListenError

    try:
        status = run_node(config_file)
    except ConfigError as error:
        raise CliError("invalid_config", str(error)) from None
    except (NodeStartError, StartupError, ListenError) as error:
        raise CliError("node_start_failed", str(error)) from None
    if status != 0:
        raise CliError("node_failed", "the node stopped after an internal error (see its log)")
