"""`sealchain ledger`: not built yet (issue 4)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "ledger",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def ledger() -> None:
    """Not built yet (issue 4)."""
    raise not_built("ledger", 4)
