"""`sealchain bench`: not built yet (issue 9)."""

from __future__ import annotations

import click

from sealchain.cli.errors import not_built


@click.command(
    "bench",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=True,
)
def bench() -> None:
    """Not built yet (issue 9)."""
    raise not_built("bench", 9)
