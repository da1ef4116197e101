"""How the CLI reports failure (DESIGN.md section 7).

Every failure exits non-zero: 2 for usage errors (click's own convention), 1 otherwise. With `--json`
the failure is `{"error": CODE, "message": TEXT}` on stderr, so scripts never parse prose.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A failure the user can act on, with a stable machine-readable code."""

    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        # click shows the error after the command's context has closed, so decide the format now.
        ctx = click.get_current_context(silent=True)
        self.as_json = ctx is not None and bool(ctx.find_root().meta.get("json_output"))

    def show(self, file: Any = None) -> None:
        if self.as_json:
            print(json.dumps({"error": self.code, "message": self.message}), file=sys.stderr)
        else:
            click.echo(f"error: {self.message}", err=True)


def json_option(func: F) -> F:
    """Adds `--json` to a command; the choice is kept on the root context for error reporting."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.find_root().meta["json_output"] = True
        return value

    return click.option(
        "--json",
        "json_output",
        is_flag=True,
        callback=remember,
        help="Print a machine-readable JSON result (errors as JSON on stderr).",
    )(func)
