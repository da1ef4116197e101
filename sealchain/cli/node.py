"""`sealchain node`: not built yet (issue 5)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "node",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def node() -> None:
    """Not built yet (issue 5)."""
    raise not_built("node", 5)
