"""Options shared by several verb groups."""

from __future__ import annotations

from pathlib import Path

import click

workspace_option = click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace folder (default: $SEALCHAIN_WORKSPACE, else ./workspace).",
)
