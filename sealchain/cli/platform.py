"""`sealchain platform`: not built yet (issue 3)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "platform",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def platform() -> None:
    """Not built yet (issue 3)."""
    raise not_built("platform", 3)
