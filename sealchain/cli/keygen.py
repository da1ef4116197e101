"""`sealchain keygen`: create a member's or a user's own keys and certificate in the workspace."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sealchain.cli.errors import CliError, json_option
from sealchain.cli.options import workspace_option
from sealchain.identities import generate_identity
from sealchain.workspace import Role, Workspace, WorkspaceError


@click.group("keygen")
def keygen() -> None:
    """Create identities: an EC P-384 key and a self-signed certificate (CCF's keygenerator).

    Private keys are written with mode 0600 and never printed. The printed id is the hex SHA-256 of
    the certificate, which governance proposals use to name the member or user.
    """


def _generate(
    role: Role, name: str, workspace: Path | None, with_encryption_key: bool, as_json: bool
) -> None:
    space = Workspace.locate(workspace)
    identity = generate_identity(name, with_encryption_key=with_encryption_key)
    try:
        files = space.save_identity(role, name, identity)
    except WorkspaceError as error:
        raise CliError(error.code, str(error)) from None
    written = {"cert": str(files.cert), "private_key": str(files.private_key)}
    if with_encryption_key:
        written["encryption_public_key"] = str(files.encryption_public_key)
        written["encryption_private_key"] = str(files.encryption_private_key)
    if as_json:
        click.echo(json.dumps({"role": role.value, "name": name, "id": identity.id, "files": written}))
        return
    click.echo(f"{role.value} {name}: id {identity.id}")
    for label, path in written.items():
        click.echo(f"  {label}: {path}")


@keygen.command("member")
@click.argument("name")
@click.option(
    "--enc/--no-enc",
    "--encryption-key/--no-encryption-key",
    "encryption_key",
    default=True,
    show_default=True,
    help="Also create the RSA key pair that recovery shares are encrypted to (members who take part in "
    "recovery need one).",
)
@workspace_option
@json_option
def member(name: str, encryption_key: bool, workspace_dir: Path | None, json_output: bool) -> None:
    """Create member NAME (e.g. member3) under WORKSPACE/members/."""
    _generate(Role.MEMBER, name, workspace_dir, encryption_key, json_output)


@keygen.command("user")
@click.argument("name")
@workspace_option
@json_option
def user(name: str, workspace_dir: Path | None, json_output: bool) -> None:
    """Create user NAME (e.g. user1) under WORKSPACE/users/."""
    _generate(Role.USER, name, workspace_dir, False, json_output)
