"""`sealchain network up|status|down`: a local network of nodes in one workspace (DESIGN.md section 7)."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from enclave.ledger.reading import ledger_chunks
from enclave.runtime import messages as m
from node.config import ConfigError, load_config
from node.network import (
    LocalNetwork,
    NetworkError,
    NetworkFile,
    bring_up,
    bring_up_recovered,
    is_primary,
    node_status,
    read_network_file,
    stop_recorded_network,
)
from node.platform_files import PlatformFilesError
from sealchain.cli.errors import CliError, json_option
from sealchain.cli.options import workspace_option
from sealchain.client import ClientError
from sealchain.governance import GovernanceClient, MemberSigner, activate_and_open
from sealchain.workspace import Role, Workspace, WorkspaceError, prepare_network_workspace

UP_DEADLINE_SECONDS = 120.0


@click.group("network")
def network() -> None:
    """Run a local network of nodes on this machine (loopback addresses, free ports)."""


@network.command("up")
@click.option("--nodes", "node_count", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option("--members", "member_count", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--users", "user_count", default=1, show_default=True, type=click.IntRange(0, 100))
@workspace_option
@click.option(
    "--recover-from",
    "recover_from",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Disaster recovery: start from the ledger of the lost network in this workspace (its members "
    "and users are copied); the members then submit their recovery shares (gov share submit).",
)
@click.option("--detach", is_flag=True, help="Leave the nodes running in the background and return.")
@json_option
def up(
    *,
    node_count: int,
    member_count: int,
    user_count: int,
    workspace_dir: Path | None,
    recover_from: Path | None,
    detach: bool,
    json_output: bool,
) -> None:
    """Create a workspace, start the nodes, open the service, print the endpoints.

    Creates members' and users' identities, the simulated TEE platform and one machine per node, starts
    node0 as the genesis node and the others joining through it; then every member acks the state
    digest (becoming Active) and the members vote transition_service_to_open. Without
    --detach it stays in the foreground; Ctrl-C stops every node cleanly."""
    workspace = Workspace.locate(workspace_dir)
    if workspace.network_json.exists() or workspace.node_dir("node0").exists():
        raise CliError("workspace_in_use", f"{workspace.root} already holds a network: use another workspace")
    if recover_from is not None:
        _recover(workspace, Workspace(recover_from), node_count, detach=detach, json_output=json_output)
        return
    try:
        identities = prepare_network_workspace(
            workspace, nodes=node_count, members=member_count, users=user_count
        )
    except (WorkspaceError, PlatformFilesError) as error:
        raise CliError(error.code, str(error)) from None

    local = LocalNetwork(workspace.root)
    members = [f"member{i}" for i in range(member_count)]
    users = [f"user{i}" for i in range(user_count)]

    def open_service() -> None:
        """DESIGN.md 4: every member acks the state digest (Active), then they vote the service open."""
        local.write_network_file(members, users)
        signers = [MemberSigner.from_workspace(workspace, name) for name in members]
        with GovernanceClient.from_workspace(workspace.root, identity=members[0]) as governance:
            activate_and_open(governance, signers)

    with _stopping_all_on_failure(local, "opening the service"):
        bring_up(
            local,
            node_count,
            identities,
            deadline=time.monotonic() + UP_DEADLINE_SECONDS,
            open_service=open_service,
            detach=detach,
        )
        network_file = local.write_network_file(members, users)

    if json_output:
        click.echo(network_file.to_json(), nl=False)
    else:
        _print_welcome(workspace, network_file, users)
    if detach:
        return
    _stay_in_foreground(local)


@contextlib.contextmanager
def _stopping_all_on_failure(local: LocalNetwork, opening: str) -> Iterator[None]:
    """Bringing a network up: on any failure every node started so far is stopped, and a network or
    client failure becomes the CLI's error naming what failed."""
    try:
        yield
    except NetworkError as error:
        local.stop_all()
        raise CliError(error.code, str(error)) from None
    except ClientError as error:
        local.stop_all()
        raise CliError(error.code, f"{opening} failed: {error.message}") from None
    except BaseException:
        local.stop_all()
        raise


def _whole_ledger(directory: Path) -> bool:
    """Whether the ledger in `directory` starts at seqno 1: recovery replays a whole ledger, and a node
    that started from a snapshot holds only what follows it."""
    chunks = ledger_chunks(path.name for path in directory.iterdir())
    return bool(chunks) and chunks[0].start == 1


def _recover(
    workspace: Workspace, lost: Workspace, node_count: int, *, detach: bool, json_output: bool
) -> None:
    """DESIGN.md 4.6: the lost network's members and users, its longest ledger, a recovering node0."""
    ledgers = [path for path in lost.root.glob("nodes/*/ledger") if path.is_dir() and _whole_ledger(path)]
    if not ledgers or not lost.identity_names(Role.MEMBER):
        raise CliError(
            "not_a_network",
            f"{lost.root} holds no members or no whole node ledger (from seqno 1) to recover from",
        )
    longest = max(ledgers, key=lambda path: sum(chunk.stat().st_size for chunk in path.iterdir()))
    for role in (Role.MEMBER, Role.USER):
        source = lost.root / role.folder
        if source.is_dir():
            shutil.copytree(source, workspace.root / role.folder, dirs_exist_ok=True)
    members, users = workspace.identity_names(Role.MEMBER), workspace.identity_names(Role.USER)
    try:
        identities = prepare_network_workspace(workspace, nodes=node_count, members=0, users=0)
    except (WorkspaceError, PlatformFilesError) as error:
        raise CliError(error.code, str(error)) from None
    local = LocalNetwork(workspace.root)
    with _stopping_all_on_failure(local, "opening the recovered service"):
        deadline = time.monotonic() + UP_DEADLINE_SECONDS
        bring_up_recovered(
            local, node_count, identities, old_ledger=longest, deadline=deadline, detach=detach
        )
        network_file = local.write_network_file(members, users)
        with GovernanceClient.from_workspace(workspace.root, identity=members[0]) as governance:
            activate_and_open(governance, [MemberSigner.from_workspace(workspace, name) for name in members])
    if json_output:
        click.echo(network_file.to_json(), nl=False)
    else:
        click.echo(f"Recovered from {longest}; new service certificate: {workspace.service_cert}")
        click.echo("The service waits for recovery shares. Each recovery member runs:")
        sealchain = shutil.which("sealchain") or f"{sys.executable} -m sealchain"
        for name in members:
            click.echo(f"  {sealchain} gov share submit --as {name} --workspace {workspace.root}")
    if not detach:
        _stay_in_foreground(local)


def _print_welcome(workspace: Workspace, network_file: NetworkFile, users: list[str]) -> None:
    click.echo(f"The service is open. Workspace: {workspace.root}")
    click.echo(f"Service certificate: {workspace.service_cert}")
    for record in network_file.nodes:
        click.echo(
            f"  {record.name}  client {record.client_address}  pid {record.pid}  id {record.node_id[:12]}"
        )
    as_user = f" --as {users[0]}" if users else ""
    ws = f" --workspace {workspace.root}"
    # The command as this shell can run it: the venv's console script need not be on PATH.
    sealchain = shutil.which("sealchain") or f"{sys.executable} -m sealchain"
    click.echo("Try:")
    click.echo(f"  {sealchain} tx put hello world{as_user}{ws}")
    click.echo(f"  {sealchain} tx get hello{as_user}{ws}")
    click.echo(f"  {sealchain} network status{ws}")


def _stay_in_foreground(local: LocalNetwork) -> None:
    """Until Ctrl-C (or SIGTERM): then every node is stopped cleanly."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    click.echo("Press Ctrl-C to stop the network.")
    try:
        while all(node.is_running() for node in local.nodes.values()):
            time.sleep(0.5)
        stopped = [name for name, node in local.nodes.items() if not node.is_running()]
        click.echo(f"node(s) {', '.join(stopped)} exited; stopping the network", err=True)
    except KeyboardInterrupt:
        click.echo("stopping the network", err=True)
    finally:
        local.stop_all()


def commit_lags(reports: Sequence[m.NodeStatusReport | None]) -> list[int | None]:
    """Per node, how many seqnos its commit is behind the primary's: the primary's commit seqno minus
    its own. None for a node that does not answer, and for every node when no primary answers (of two
    nodes that both claim to lead, the one in the higher term is the primary)."""
    leaders = [report for report in reports if report is not None and is_primary(report)]
    if not leaders:
        return [None] * len(reports)
    primary_commit = max(leaders, key=lambda report: report.term).commit.seqno
    return [None if report is None else primary_commit - report.commit.seqno for report in reports]


@network.command("status")
@workspace_option
@json_option
def status(workspace_dir: Path | None, json_output: bool) -> None:
    """Each node's role, term, commit TxID, lag, status and whether it answers (in JSON also `voter`:
    whether the node votes in the configuration it knows committed; a joiner is a learner first, shown
    as "learner" in the table).

    lag: the primary's commit seqno minus this node's (0 on the primary and on a follower that has
    caught up; in JSON null, in the table "-", when the node or the primary does not answer)."""
    workspace = Workspace.locate(workspace_dir)
    try:
        network_file = read_network_file(workspace.root)
    except NetworkError as error:
        raise CliError(error.code, str(error)) from None
    reports = [_node_report(workspace.root / record.config) for record in network_file.nodes]
    nodes = []
    for record, report, lag in zip(network_file.nodes, reports, commit_lags(reports), strict=True):
        nodes.append(
            {
                "name": record.name,
                "node_id": record.node_id,
                "client_address": record.client_address,
                "pid": record.pid,
                "config": record.config,
                "ledger_dir": record.ledger_dir,
                "role": report.role if report else None,
                "voter": report.voter if report else None,
                "term": report.term if report else None,
                "commit": f"{report.commit.view}.{report.commit.seqno}" if report else None,
                "lag": lag,
                "status": report.state.value if report else None,
                "up": report is not None,
            }
        )
    if json_output:
        document = {
            "service_cert": network_file.service_cert,
            "nodes": nodes,
            "members": list(network_file.members),
            "users": list(network_file.users),
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"{'node':<8}{'up':<6}{'role':<11}{'term':<6}{'commit':<12}{'lag':<6}{'status':<10}client")
    for node in nodes:
        role = shown_role(node["role"], node["voter"])
        click.echo(
            f"{node['name']!s:<8}{'yes' if node['up'] else 'no':<6}{role:<11}"
            f"{_or_dash(node['term'])!s:<6}{node['commit'] or '-'!s:<12}{_or_dash(node['lag'])!s:<6}"
            f"{node['status'] or '-'!s:<10}{node['client_address']}"
        )


def shown_role(role: object, voter: object) -> str:
    """The table's role: Raft's, except that a follower which does not vote yet shows as a learner."""
    if role is None:
        return "-"
    return "learner" if role == "follower" and voter is False else str(role)


def _or_dash(value: object) -> object:
    return "-" if value is None else value


def _node_report(config_file: Path) -> m.NodeStatusReport | None:
    try:
        config = load_config(config_file)
    except ConfigError:
        return None
    return node_status(config.operator.bind)


@network.command("down")
@workspace_option
@json_option
def down(workspace_dir: Path | None, json_output: bool) -> None:
    """Stop the nodes that `network up --detach` left running (SIGTERM, then SIGKILL)."""
    workspace = Workspace.locate(workspace_dir)
    try:
        stopped = stop_recorded_network(workspace.root)
    except NetworkError as error:
        raise CliError(error.code, str(error)) from None
    if json_output:
        click.echo(json.dumps({"stopped": stopped}))
    else:
        click.echo(f"stopped: {', '.join(stopped)}" if stopped else "no node of this workspace was running")
