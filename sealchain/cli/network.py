"""`sealchain network`: not built yet (issue 5)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "network",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def network() -> None:
    """Not built yet (issue 5)."""
    raise not_built("network", 5)
