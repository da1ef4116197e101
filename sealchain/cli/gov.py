"""`sealchain gov`: not built yet (issue 6)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "gov",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def gov() -> None:
    """Not built yet (issue 6)."""
    raise not_built("gov", 6)
