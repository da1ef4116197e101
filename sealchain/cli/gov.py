"""`sealchain gov`: members govern the service (DESIGN.md sections 4 and 7, docs/governance.md).

Requests are CCF's COSE Sign1 governance messages, signed here with the member's own key: `--as memberN`
(default member0) picks the workspace member whose key signs and whose certificate opens the TLS
connection; `sealchain gov --cert FILE --key FILE ...` uses keys kept outside the workspace instead, and
`gov submit FILE` sends a request signed elsewhere as it is. Private keys are read, never printed.

`gov propose ACTION` has one subcommand per action, with typed options that build CCF's proposal JSON
(`{"actions": [{"name": ..., "args": {...}}]}`); `gov propose --file PROPOSAL.json` sends one written
by hand. Members, users and nodes may be named by id or by their workspace name (member2, user1, node3).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from cryptography import x509
from rich.console import Console
from rich.table import Column, Table

from enclave.crypto.ids import certificate_fingerprint
from enclave.governance.errors import MalformedProposal
from enclave.governance.proposals import ProposalState, parse_proposal
from enclave.platform.api import PlatformName
from node.network import NetworkError, read_network_file
from sealchain.cli.errors import CliError, json_option
from sealchain.cli.options import workspace_option
from sealchain.client import ClientError, TxStatus, format_txid
from sealchain.connection import ServiceAccess
from sealchain.governance import (
    GovernanceClient,
    GovernanceResult,
    InvalidSigner,
    JsonObject,
    MemberSigner,
    result_body,
    result_failure,
)
from sealchain.workspace import Role, Workspace, WorkspaceError

_ID_LENGTH = 64
_HEX = frozenset("0123456789abcdef")
# Long argument values (certificates, keys) are cut in tables; --json shows them whole.
_SHOWN_VALUE_CHARS = 60


# -- who calls, and how --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OutsideKeys:
    """`gov --cert FILE --key FILE`: a member identity kept outside the workspace."""

    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class _Caller:
    """A gov command's caller options: the workspace member (or outside keys) and the output format."""

    identity: str
    workspace: Workspace
    outside_keys: _OutsideKeys | None
    json_output: bool

    def client(self) -> GovernanceClient:
        if self.outside_keys is None:
            return GovernanceClient.from_workspace(self.workspace.root, identity=self.identity)
        access = ServiceAccess.to_network(
            self.workspace, self.outside_keys.cert.read_bytes(), self.outside_keys.key.read_bytes()
        )
        return GovernanceClient.from_access(access)

    def signer(self) -> MemberSigner:
        if self.outside_keys is None:
            return MemberSigner.from_workspace(self.workspace, self.identity)
        return MemberSigner.from_files(self.outside_keys.cert, self.outside_keys.key)


def _caller_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--as`, `--workspace` and `--json` on a gov command, handed to it as one `caller` argument."""

    @functools.wraps(command)
    def with_caller(
        *args: Any, identity: str, workspace_dir: Path | None, json_output: bool, **kwargs: Any
    ) -> Any:
        ctx = click.get_current_context()
        outside_keys = ctx.find_object(_OutsideKeys)
        if outside_keys is not None and ctx.get_parameter_source("identity") is ParameterSource.COMMANDLINE:
            raise click.UsageError("--as names a workspace member; 'gov --cert/--key' names keys: pick one")
        caller = _Caller(identity, Workspace.locate(workspace_dir), outside_keys, json_output)
        return command(*args, caller=caller, **kwargs)

    with_caller = click.option(
        "--as",
        "identity",
        default="member0",
        show_default=True,
        help="The workspace member who signs (and whose certificate opens the connection).",
    )(with_caller)
    return json_option(workspace_option(with_caller))


@dataclass(frozen=True, slots=True)
class _Proposer:
    """A `gov propose` command's caller, and whether to only print the proposal (`--dry-run`)."""

    caller: _Caller
    dry_run: bool

    def propose(self, actions: Callable[[Workspace], list[dict[str, object]]]) -> None:
        """Builds the actions (names resolved in the workspace) and checks them as the service will, then
        prints them, or signs and submits them."""
        built = actions(self.caller.workspace)
        try:
            parse_proposal(json.dumps({"actions": built}).encode())
        except MalformedProposal as error:
            raise click.UsageError(f"not a valid proposal: {error}") from None
        if self.dry_run:
            _echo_json({"actions": built})
            return
        with _signing(self.caller) as (client, signer):
            result = client.propose(signer, built)
        _report(result, self.caller)


def _proposal_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The caller options and `--dry-run` on a propose command, handed to it as one `proposer`."""

    @functools.wraps(command)
    def with_proposer(*args: Any, caller: _Caller, dry_run: bool, **kwargs: Any) -> Any:
        return command(*args, proposer=_Proposer(caller, dry_run), **kwargs)

    with_proposer = click.option(
        "--dry-run",
        is_flag=True,
        help="Print the proposal JSON (to review, or to sign elsewhere); sign and send nothing.",
    )(with_proposer)
    return _caller_options(with_proposer)


@contextmanager
def _refusals() -> Iterator[None]:
    """Every refusal becomes the CLI's error, with the node's code where it has one."""
    try:
        yield
    except ClientError as error:
        raise CliError(error.code, error.message) from None
    except (WorkspaceError, NetworkError) as error:
        raise CliError(error.code, str(error)) from None
    except InvalidSigner as error:
        raise CliError("invalid_signer", str(error)) from None
    except OSError as error:
        raise CliError("workspace", str(error)) from None


@contextmanager
def _governance(caller: _Caller) -> Iterator[GovernanceClient]:
    with _refusals(), caller.client() as client:
        yield client


@contextmanager
def _signing(caller: _Caller) -> Iterator[tuple[GovernanceClient, MemberSigner]]:
    """The caller's signing identity (checked before connecting) and a connected client."""
    with _refusals():
        signer = caller.signer()
        with caller.client() as client:
            yield client, signer


# -- output ----------------------------------------------------------------------------------------------


def _echo_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2))


def _print_table(table: Table) -> None:
    Console(soft_wrap=False).print(table)


def _report(result: GovernanceResult, caller: _Caller) -> None:
    """A proposal, ballot or withdrawal: the proposal's id and state after it, and its transaction."""
    document: dict[str, object] = {
        "proposal_id": result.proposal_id,
        "state": result.proposal_state,
        "txid": format_txid(result.txid),
        "status": result.status.value,
    }
    failure = result_failure(result)
    if failure is not None:
        document["failure"] = failure
    if caller.json_output:
        _echo_json(document)
    else:
        click.echo(f"proposal {result.proposal_id}: {result.proposal_state}")
        click.echo(f"  txid {document['txid']} {result.status.value}")
        if failure is not None:
            click.echo(f"  failure: {failure}")
    _exit_if_rolled_back(result)


def _exit_if_rolled_back(result: GovernanceResult) -> None:
    """A request whose transaction was rolled back (Invalid) did nothing: exit 1, as `tx` does."""
    if result.status is TxStatus.INVALID:
        raise click.exceptions.Exit(1)


def _names(workspace: Workspace) -> dict[str, str]:
    """Workspace names by member, user and node id, to show beside ids (best effort: what is readable)."""
    names: dict[str, str] = {}
    for role in Role:
        for name in workspace.identity_names(role):
            try:
                names[_fingerprint(workspace.identity_files(role, name).cert)] = name
            except (OSError, ValueError):
                continue
    with suppress(NetworkError):
        names.update({node.node_id: node.name for node in read_network_file(workspace.root).nodes})
    return names


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 1] + "…"


def _threshold_text(threshold: Mapping[str, object]) -> str:
    match threshold.get("type"):
        case "k_of_n":
            return f"{threshold.get('k')} of the active members"
        case "fraction":
            return f"{threshold.get('numerator')}/{threshold.get('denominator')} of the active members"
        case "majority":
            return "a majority of the active members"
        case "all":
            return "all active members"
    return json.dumps(threshold)


def _tally_text(proposal: JsonObject) -> str:
    tally = proposal.get("tally") or {}
    return (
        f"{tally.get('accept')} accept / {tally.get('required')} required"
        f" ({tally.get('reject')} reject, {tally.get('active_members')} active members)"
    )


# -- resolving names to ids ------------------------------------------------------------------------------


def _is_id(text: str) -> bool:
    return len(text) == _ID_LENGTH and set(text) <= _HEX


def _fingerprint(cert_file: Path) -> str:
    return certificate_fingerprint(x509.load_pem_x509_certificate(cert_file.read_bytes()))


def _identity_id(workspace: Workspace, role: Role, text: str) -> str:
    """A member's or user's id, given as the id itself or as a name in the workspace (member2, user1)."""
    if _is_id(text):
        return text
    try:
        cert = workspace.identity_files(role, text).cert
        return _fingerprint(cert)
    except (WorkspaceError, OSError, ValueError):
        raise click.BadParameter(
            f"{text!r} is neither a {role.value} id (64 hex characters)"
            f" nor a {role.value} in {workspace.root}",
            param_hint=role.value.upper(),
        ) from None


def _node_id(workspace: Workspace, text: str) -> str:
    """A node's id, given as the id itself or as its name in network.json (node3)."""
    if _is_id(text):
        return text
    try:
        nodes = read_network_file(workspace.root).nodes
    except NetworkError as error:
        raise click.BadParameter(f"{text!r} is not a node id, and {error}") from None
    for node in nodes:
        if node.name == text and node.node_id:
            return node.node_id
    raise click.BadParameter(f"{text!r} is neither a node id (64 hex characters) nor a node in network.json")


def _json_value(text: str | None, what: str) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"{what} is not JSON: {error}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(f"cannot read {path}: {error}") from None


def _read_proposal_file(path: Path) -> list[dict[str, object]]:
    """A hand-written proposal, checked as the service will check it before anything is signed."""
    try:
        payload = path.read_bytes()
        parse_proposal(payload)
    except OSError as error:
        raise click.BadParameter(f"cannot read {path}: {error}", param_hint="--file") from None
    except MalformedProposal as error:
        raise click.BadParameter(f"{path} is not a valid proposal: {error}", param_hint="--file") from None
    actions: list[dict[str, object]] = json.loads(payload)["actions"]
    return actions


# -- the group -------------------------------------------------------------------------------------------


@click.group("gov")
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Sign (and connect) with this member certificate instead of a workspace member (needs --key).",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The private key of --cert (read, never printed).",
)
@click.pass_context
def gov(ctx: click.Context, cert_file: Path | None, key_file: Path | None) -> None:
    """Govern the service as a member: proposals, ballots, activation, and the governance tables.

    Every request is signed with the member's key (COSE Sign1, CCF's format) and verified inside the
    enclave. The workspace member is chosen with --as (default member0); keys kept elsewhere with
    'sealchain gov --cert FILE --key FILE VERB ...'. Tables print as text; --json prints the JSON the
    service returned.
    """
    if (cert_file is None) != (key_file is None):
        raise click.UsageError("--cert and --key go together")
    if cert_file is not None and key_file is not None:
        ctx.obj = _OutsideKeys(cert_file, key_file)


# -- requests --------------------------------------------------------------------------------------------


@gov.command("vote")
@click.argument("proposal_id")
@click.argument("ballot", type=click.Choice(["accept", "reject"]))
@_caller_options
def vote(proposal_id: str, ballot: str, caller: _Caller) -> None:
    """Vote BALLOT (accept or reject) on PROPOSAL_ID; a later vote replaces the member's earlier one."""
    with _signing(caller) as (client, signer):
        result = client.vote(signer, proposal_id, accept=ballot == "accept")
    _report(result, caller)


@gov.command("withdraw")
@click.argument("proposal_id")
@_caller_options
def withdraw(proposal_id: str, caller: _Caller) -> None:
    """Withdraw PROPOSAL_ID (only its proposer may, while it is Open)."""
    with _signing(caller) as (client, signer):
        result = client.withdraw(signer, proposal_id)
    _report(result, caller)


@gov.command("ack")
@_caller_options
def ack(caller: _Caller) -> None:
    """Activate the member: fetch the state digest, sign an ack of it (Accepted -> Active)."""
    with _signing(caller) as (client, signer):
        result = client.activate(signer)
    txid = format_txid(result.txid)
    if caller.json_output:
        _echo_json(
            {
                "member_id": signer.member_id,
                "member_status": "Active",
                "txid": txid,
                "status": result.status.value,
            }
        )
    else:
        click.echo(f"member {signer.member_id}: Active (txid {txid} {result.status.value})")
    _exit_if_rolled_back(result)


@gov.group("share")
def share() -> None:
    """Disaster recovery: each recovery member submits its share (docs/recovery.md)."""


@share.command("submit")
@click.option(
    "--enc-key",
    "encryption_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The member's RSA encryption private key (default: the workspace's memberN_enc_privk.pem).",
)
@_caller_options
def share_submit(encryption_key: Path | None, caller: _Caller) -> None:
    """Decrypt this member's recovery share locally (the key never leaves this machine) and submit it.

    Once the recovery threshold of shares is in, the service restores its private state and opens."""
    key_file = (
        encryption_key or caller.workspace.identity_files(Role.MEMBER, caller.identity).encryption_private_key
    )
    with _signing(caller) as (client, signer):
        result = client.submit_share(signer, key_file.read_bytes())
    body = result_body(result)
    if caller.json_output:
        _echo_json({"txid": format_txid(result.txid), "status": result.status.value, **body})
    elif "failure" in body:
        click.echo(f"the shares did not restore the service: {body['failure']}; submit again")
    elif "service" in body:
        click.echo(
            f"private state restored ({body.get('restored_keys')} keys): the service is {body['service']}"
        )
    else:
        click.echo(f"share accepted: {body.get('submitted')} of {body.get('threshold')} needed")
    _exit_if_rolled_back(result)


@gov.command("submit")
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_caller_options
def submit(request_file: Path, caller: _Caller) -> None:
    """Send REQUEST_FILE, a governance request already COSE-signed (e.g. by CCF's ccf_cose_sign1),
    byte for byte; only the connection uses --as."""
    with _governance(caller) as client:
        result = client.submit(request_file.read_bytes())
    if result.proposal_id is not None:
        _report(result, caller)
        return
    # A state digest request or an ack: what it did is in the body.
    body = result_body(result)
    txid = format_txid(result.txid)
    if caller.json_output:
        _echo_json({"txid": txid, "status": result.status.value, "body": body})
    else:
        click.echo(f"txid {txid} {result.status.value}: {json.dumps(body)}")
    _exit_if_rolled_back(result)


# -- propose ---------------------------------------------------------------------------------------------


@gov.group("propose", invoke_without_command=True)
@click.option(
    "--file",
    "proposal_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='A proposal written by hand: CCF\'s {"actions": [{"name": ..., "args": {...}}]}.',
)
@_proposal_options
@click.pass_context
def propose(ctx: click.Context, proposal_file: Path | None, proposer: _Proposer) -> None:
    """Propose an ACTION (one subcommand each, with typed options), or several with --file.

    Prints the proposal's id and state; other members then vote on it with 'gov vote ID accept'.
    The proposer does not vote implicitly.
    """
    if ctx.invoked_subcommand is not None:
        if proposal_file is not None:
            raise click.UsageError("--file is a whole proposal: give it without an action")
        given_here = [
            name
            for name in ("identity", "workspace_dir", "json_output", "dry_run")
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        ]
        if given_here:
            raise click.UsageError("put --as, --workspace, --json and --dry-run after the action")
        return
    if proposal_file is None:
        raise click.UsageError("name an ACTION, or give --file PROPOSAL.json")
    proposer.propose(lambda _: _read_proposal_file(proposal_file))


def _action(name: str, **args: object) -> list[dict[str, object]]:
    """One action of CCF's proposal JSON; arguments left as None are left out."""
    return [{"name": name, "args": {key: value for key, value in args.items() if value is not None}}]


_pem_file = click.Path(exists=True, dir_okay=False, path_type=Path)


@propose.command("set-member")
@click.option("--cert", "cert_file", type=_pem_file, required=True, help="The new member's certificate.")
@click.option(
    "--enc-pubk", "enc_pubk_file", type=_pem_file, default=None, help="Its recovery encryption public key."
)
@click.option("--member-data", default=None, help="Any JSON kept with the member.")
@_proposal_options
def set_member(
    cert_file: Path, enc_pubk_file: Path | None, member_data: str | None, proposer: _Proposer
) -> None:
    """Add a member (Accepted until it acks): CCF's set_member."""
    proposer.propose(
        lambda _: _action(
            "set_member",
            cert=_read_text(cert_file),
            encryption_pub_key=None if enc_pubk_file is None else _read_text(enc_pubk_file),
            member_data=_json_value(member_data, "--member-data"),
        ),
    )


@propose.command("set-user")
@click.option("--cert", "cert_file", type=_pem_file, required=True, help="The new user's certificate.")
@click.option("--user-data", default=None, help="Any JSON kept with the user.")
@_proposal_options
def set_user(cert_file: Path, user_data: str | None, proposer: _Proposer) -> None:
    """Add a user: CCF's set_user."""
    proposer.propose(
        lambda _: _action(
            "set_user", cert=_read_text(cert_file), user_data=_json_value(user_data, "--user-data")
        ),
    )


def _add_identity_commands(role: Role) -> None:
    """`remove-member`/`remove-user` and `set-member-data`/`set-user-data`: one shape for both roles, the
    member or user named by id or by workspace name."""
    kind = role.value

    @propose.command(f"remove-{kind}", help=f"Remove {kind.upper()} (an id, or a name such as {kind}1).")
    @click.argument("name", metavar=kind.upper())
    @_proposal_options
    def remove(name: str, proposer: _Proposer) -> None:
        proposer.propose(lambda ws: _action(f"remove_{kind}", **{f"{kind}_id": _identity_id(ws, role, name)}))

    option = f"--{kind}-data"

    @propose.command(f"set-{kind}-data", help=f"Replace the JSON data kept with {kind.upper()}.")
    @click.argument("name", metavar=kind.upper())
    @click.option(option, "data", required=True, help=f"The JSON to keep with the {kind}.")
    @_proposal_options
    def set_data(name: str, data: str, proposer: _Proposer) -> None:
        def build(ws: Workspace) -> list[dict[str, object]]:
            args = {f"{kind}_id": _identity_id(ws, role, name), f"{kind}_data": _json_value(data, option)}
            return _action(f"set_{kind}_data", **args)

        proposer.propose(build)


for _role in Role:
    _add_identity_commands(_role)


@propose.command("transition-node-to-trusted")
@click.argument("node")
@click.option(
    "--valid-from",
    default=None,
    help="When the node's certificate becomes valid: ISO 8601 or YYYYMMDDhhmmssZ (default: now).",
)
@_proposal_options
def transition_node_to_trusted(node: str, valid_from: str | None, proposer: _Proposer) -> None:
    """Trust joined NODE (an id, or a name from network.json such as node3): Pending -> Trusted."""
    since = valid_from or datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")
    proposer.propose(
        lambda ws: _action("transition_node_to_trusted", node_id=_node_id(ws, node), valid_from=since),
    )


@propose.command("remove-node")
@click.argument("node")
@_proposal_options
def remove_node(node: str, proposer: _Proposer) -> None:
    """Retire NODE (an id, or a name from network.json): it leaves the service's configuration."""
    proposer.propose(lambda ws: _action("remove_node", node_id=_node_id(ws, node)))


def _measurement_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--measurement", required=True, help="The enclave code measurement, as lowercase hex."
    )(command)
    return click.option(
        "--platform",
        "platform_name",
        type=click.Choice([platform.value for platform in PlatformName]),
        required=True,
        help="The TEE platform the measurement is for.",
    )(command)


@propose.command("add-measurement")
@_measurement_options
@_proposal_options
def add_measurement(platform_name: str, measurement: str, proposer: _Proposer) -> None:
    """Allow enclave code with this measurement to join."""
    proposer.propose(
        lambda _: _action("add_measurement", platform=platform_name, measurement=measurement.lower())
    )


@propose.command("remove-measurement")
@_measurement_options
@_proposal_options
def remove_measurement(platform_name: str, measurement: str, proposer: _Proposer) -> None:
    """Stop allowing enclave code with this measurement to join."""
    proposer.propose(
        lambda _: _action("remove_measurement", platform=platform_name, measurement=measurement.lower()),
    )


@propose.command("set-constitution")
@click.option(
    "--file",
    "constitution_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help='The constitution JSON: {"default": THRESHOLD, "actions": {ACTION: THRESHOLD}}.',
)
@_proposal_options
def set_constitution(constitution_file: Path, proposer: _Proposer) -> None:
    """Replace the constitution (the thresholds each action needs)."""
    constitution = _json_value(_read_text(constitution_file), str(constitution_file))
    proposer.propose(lambda _: _action("set_constitution", constitution=constitution))


@propose.command("transition-service-to-open")
@_proposal_options
def transition_service_to_open(proposer: _Proposer) -> None:
    """Open the service to users."""
    proposer.propose(lambda _: _action("transition_service_to_open"))


@propose.command("set-recovery-threshold")
@click.argument("threshold", type=click.IntRange(1, 255))
@_proposal_options
def set_recovery_threshold(threshold: int, proposer: _Proposer) -> None:
    """How many recovery members' shares restore the service after a disaster."""
    proposer.propose(lambda _: _action("set_recovery_threshold", recovery_threshold=threshold))


@propose.command("trigger-ledger-rekey")
@_proposal_options
def trigger_ledger_rekey(proposer: _Proposer) -> None:
    """Start a new ledger secret for the transactions that follow."""
    proposer.propose(lambda _: _action("trigger_ledger_rekey"))


@propose.command("trigger-snapshot")
@_proposal_options
def trigger_snapshot(proposer: _Proposer) -> None:
    """Have the primary snapshot the committed state now, besides every N transactions."""
    proposer.propose(lambda _: _action("trigger_snapshot"))


# -- reads -----------------------------------------------------------------------------------------------


@gov.command("list")
@click.option(
    "--state",
    type=click.Choice([state.value.lower() for state in ProposalState], case_sensitive=False),
    default=None,
    help="Only proposals in this state.",
)
@_caller_options
def list_proposals(state: str | None, caller: _Caller) -> None:
    """The proposals, with their state and tally."""
    with _governance(caller) as client:
        proposals = client.proposals()
    if state is not None:
        proposals = [p for p in proposals if str(p.get("state")).lower() == state.lower()]
    if caller.json_output:
        _echo_json(proposals)
        return
    names = _names(caller.workspace)
    table = Table(Column("Proposal", overflow="fold"), "Proposer", "State", "Actions", "Accepts")
    for proposal in proposals:
        proposer = str(proposal.get("proposer_id"))
        table.add_row(
            str(proposal.get("proposal_id")),
            names.get(proposer, _short(proposer)),
            str(proposal.get("state")),
            ", ".join(str(action.get("name")) for action in proposal.get("actions", [])),
            "{accept}/{required}".format_map(proposal.get("tally") or {}),
        )
    _print_table(table)


@gov.command("show")
@click.argument("proposal_id")
@_caller_options
def show(proposal_id: str, caller: _Caller) -> None:
    """One proposal: its actions, the ballots so far, and the tally against the threshold."""
    with _governance(caller) as client:
        proposal = client.proposal(proposal_id)
    if caller.json_output:
        _echo_json(proposal)
        return
    names = _names(caller.workspace)
    proposer = str(proposal.get("proposer_id"))
    click.echo(f"proposal {proposal.get('proposal_id')}: {proposal.get('state')}")
    click.echo(f"  proposer: {names.get(proposer, proposer)}")
    if proposal.get("failure"):
        click.echo(f"  failure: {proposal['failure']}")
    click.echo(f"  tally: {_tally_text(proposal)}")
    actions = Table("Action", "Arguments")
    for action in proposal.get("actions", []):
        arguments = action.get("args") or {}
        actions.add_row(str(action.get("name")), "\n".join(f"{k}: {_short(v)}" for k, v in arguments.items()))
    _print_table(actions)
    ballots = Table("Member", "Ballot")
    for member_id, ballot in (proposal.get("ballots") or {}).items():
        ballots.add_row(names.get(member_id, member_id), str(ballot))
    _print_table(ballots)


def _print_rows(rows: list[JsonObject], columns: Mapping[str, str], names: Mapping[str, str]) -> None:
    """A table of `rows` showing `columns` (heading by JSON field); ids get their workspace name."""
    id_heading, *other_headings = columns.values()
    table = Table("Name", Column(id_heading, overflow="fold"), *other_headings)
    for row in rows:
        cells = [
            _short(row.get(field)) if field.endswith("_data") else str(row.get(field)) for field in columns
        ]
        table.add_row(names.get(cells[0], ""), *cells)
    _print_table(table)


@gov.command("members")
@_caller_options
def members(caller: _Caller) -> None:
    """The members, their status (Accepted until they ack, then Active) and data."""
    with _governance(caller) as client:
        rows = client.members()
    if caller.json_output:
        _echo_json(rows)
        return
    columns = {"member_id": "Member id", "status": "Status", "recovery_member": "Recovery"}
    _print_rows(rows, columns | {"member_data": "Data"}, _names(caller.workspace))


@gov.command("users")
@_caller_options
def users(caller: _Caller) -> None:
    """The users and their data."""
    with _governance(caller) as client:
        rows = client.users()
    if caller.json_output:
        _echo_json(rows)
        return
    _print_rows(rows, {"user_id": "User id", "user_data": "Data"}, _names(caller.workspace))


@gov.command("nodes")
@_caller_options
def nodes(caller: _Caller) -> None:
    """The nodes, their status (Pending, Trusted, Retired) and addresses."""
    with _governance(caller) as client:
        rows = client.nodes()
    if caller.json_output:
        _echo_json(rows)
        return
    columns = {"node_id": "Node id", "status": "Status", "peer_address": "Peer", "client_address": "Client"}
    _print_rows(rows, columns, _names(caller.workspace))


@gov.command("constitution")
@_caller_options
def constitution(caller: _Caller) -> None:
    """The constitution: how many active members' acceptances each action needs."""
    with _governance(caller) as client:
        document = client.constitution()
    if caller.json_output:
        _echo_json(document)
        return
    table = Table("Action", "Needs")
    table.add_row("(default)", _threshold_text(document.get("default") or {}))
    for action, threshold in sorted((document.get("actions") or {}).items()):
        table.add_row(action, _threshold_text(threshold))
    _print_table(table)


@gov.command("service")
@_caller_options
def service(caller: _Caller) -> None:
    """The service's status and recovery threshold."""
    with _governance(caller) as client:
        document = client.service()
    if caller.json_output:
        _echo_json(document)
        return
    click.echo(f"status: {document.get('status')}")
    click.echo(f"recovery threshold: {document.get('recovery_threshold')}")


@gov.command("measurements")
@_caller_options
def measurements(caller: _Caller) -> None:
    """The enclave code measurements allowed to join, per platform."""
    with _governance(caller) as client:
        document = client.measurements()
    if caller.json_output:
        _echo_json(document)
        return
    table = Table("Platform", Column("Measurement", overflow="fold"))
    for platform_name, allowed in sorted(document.items()):
        for measurement in allowed:
            table.add_row(platform_name, str(measurement))
    _print_table(table)
