"""The workspace: where client commands find the service certificate, identities and nodes.

Layout (DESIGN.md section 7), under `./workspace` or `$SEALCHAIN_WORKSPACE`:
`service_cert.pem`, `network.json`, `members/memberN_{cert,privk,enc_pubk,enc_privk}.pem`,
`users/userN_{cert,privk}.pem`, `platform/`, `nodes/nodeN/`. Private keys are 0600: they belong to
the member or user, and nothing else in the workspace is secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from node.config import IdentitySettings
from node.files import DIRECTORY_MODE, PRIVATE_MODE, PUBLIC_MODE, create_file
from node.platform_files import init_platform_dir, provision_machine_dir
from sealchain.identities import GeneratedIdentity, generate_identity

WORKSPACE_ENV = "SEALCHAIN_WORKSPACE"
DEFAULT_WORKSPACE = Path("workspace")
IDENTITY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Role(Enum):
    MEMBER = "member"
    USER = "user"

    @property
    def folder(self) -> str:
        return f"{self.value}s"


class WorkspaceError(Exception):
    """A workspace that cannot be used as asked; `code` is the CLI's stable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class IdentityFiles:
    """Where one member's or user's PEM files live (the encryption pair exists for members only)."""

    cert: Path
    private_key: Path
    encryption_public_key: Path
    encryption_private_key: Path


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path

    @classmethod
    def locate(cls, explicit: Path | None = None) -> Workspace:
        """`--workspace` wins, then `$SEALCHAIN_WORKSPACE`, then `./workspace`."""
        if explicit is not None:
            return cls(explicit)
        from_env = os.environ.get(WORKSPACE_ENV)
        return cls(Path(from_env) if from_env else DEFAULT_WORKSPACE)

    @property
    def service_cert(self) -> Path:
        return self.root / "service_cert.pem"

    @property
    def network_json(self) -> Path:
        return self.root / "network.json"

    @property
    def platform_dir(self) -> Path:
        return self.root / "platform"

    def node_dir(self, name: str) -> Path:
        return self.root / "nodes" / name

    def identity_files(self, role: Role, name: str) -> IdentityFiles:
        _check_name(name)
        folder = self.root / role.folder
        return IdentityFiles(
            cert=folder / f"{name}_cert.pem",
            private_key=folder / f"{name}_privk.pem",
            encryption_public_key=folder / f"{name}_enc_pubk.pem",
            encryption_private_key=folder / f"{name}_enc_privk.pem",
        )

    def identity_names(self, role: Role) -> list[str]:
        folder = self.root / role.folder
        if not folder.is_dir():
            return []
        return sorted(path.name.removesuffix("_cert.pem") for path in folder.glob("*_cert.pem"))

    def save_identity(self, role: Role, name: str, identity: GeneratedIdentity) -> IdentityFiles:
        """Writes a new identity; refuses to overwrite one (a lost key cannot be regenerated)."""
        files = self.identity_files(role, name)
        if files.cert.exists() or files.private_key.exists():
            raise WorkspaceError("identity_exists", f"{role.value} '{name}' already exists in {self.root}")
        files.cert.parent.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
        create_file(files.cert, identity.cert_pem, PUBLIC_MODE)
        create_file(files.private_key, identity.private_key_pem, PRIVATE_MODE)
        if identity.encryption_public_key_pem is not None:
            create_file(files.encryption_public_key, identity.encryption_public_key_pem, PUBLIC_MODE)
        if identity.encryption_private_key_pem is not None:
            create_file(files.encryption_private_key, identity.encryption_private_key_pem, PRIVATE_MODE)
        return files


def prepare_network_workspace(
    workspace: Workspace, *, nodes: int, members: int, users: int
) -> IdentitySettings:
    """What `network up` creates before starting nodes: members `member0..`, users `user0..`, the
    simulated TEE platform with one machine per node (`node0..`). The identities' paths, relative to the
    workspace, for the nodes' configs. Raises `WorkspaceError` or `PlatformFilesError`."""
    member_certs, encryption_keys, user_certs = [], [], []
    for i in range(members):
        name = f"member{i}"
        files = workspace.save_identity(Role.MEMBER, name, generate_identity(name, with_encryption_key=True))
        member_certs.append(files.cert.relative_to(workspace.root))
        encryption_keys.append(files.encryption_public_key.relative_to(workspace.root))
    for i in range(users):
        name = f"user{i}"
        files = workspace.save_identity(Role.USER, name, generate_identity(name, with_encryption_key=False))
        user_certs.append(files.cert.relative_to(workspace.root))
    init_platform_dir(workspace.platform_dir)
    for i in range(nodes):
        provision_machine_dir(workspace.platform_dir, f"node{i}")
    return IdentitySettings(tuple(member_certs), tuple(encryption_keys), tuple(user_certs))


def _check_name(name: str) -> None:
    if not IDENTITY_NAME.match(name):
        raise WorkspaceError(
            "invalid_name", f"'{name}' is not a valid name (letters, digits, '-' and '_', at most 64)"
        )
