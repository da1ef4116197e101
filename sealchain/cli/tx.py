"""`sealchain tx`: not built yet (issue 7)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "tx",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def tx() -> None:
    """Not built yet (issue 7)."""
    raise not_built("tx", 7)
