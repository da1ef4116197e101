"""`sealchain tx`: a user's transactions on the service's KV maps and procedures (DESIGN.md section 7).

Keys are the UTF-8 bytes of KEY; values are msgpack (DESIGN.md section 6), so `put` stores the msgpack
encoding of the VALUE string and `get` decodes it. Maps are private unless named `public:...`.
`call` runs an application procedure (docs/apps.md) with `--arg NAME=VALUE` arguments (VALUE as JSON
when it parses, e.g. numbers, else a string).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import msgpack

from enclave.runtime.messages import Consistency, TxRef, TxStatus, WriteResult
from sealchain.cli.errors import CliError, json_option
from sealchain.cli.options import workspace_option
from sealchain.client import Client, ClientError, format_txid, parse_txid
from sealchain.workspace import WorkspaceError

DEFAULT_MAP = "records"


def _connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--as",
        "identity",
        default="user0",
        show_default=True,
        help="The user (from WORKSPACE/users) the call is made as.",
    )(command)
    return json_option(workspace_option(command))


def _map_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--map",
        "map_name",
        default=DEFAULT_MAP,
        show_default=True,
        help="The KV map; private unless its name starts with 'public:'.",
    )(command)


@contextmanager
def _client(workspace_dir: Path | None, identity: str) -> Iterator[Client]:
    """A connected client; every service refusal becomes the CLI's error with the node's code."""
    try:
        with Client.from_workspace(workspace_dir, identity=identity) as client:
            yield client
    except ClientError as error:
        raise CliError(error.code, error.message) from None
    except (WorkspaceError, OSError) as error:
        code = error.code if isinstance(error, WorkspaceError) else "workspace"
        raise CliError(code, str(error)) from None


def _parse_txid(text: str) -> TxRef:
    try:
        return parse_txid(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _report_write(result: WriteResult, as_json: bool) -> None:
    txid = format_txid(result.txid)
    if as_json:
        click.echo(json.dumps({"txid": txid, "status": result.status.value}))
    else:
        click.echo(f"{txid} {result.status.value}")
    if result.status is TxStatus.INVALID:
        raise click.exceptions.Exit(1)


@click.group("tx")
def tx() -> None:
    """Transactions on the service's KV maps, as a user (mTLS with the user's certificate).

    Writes wait until Committed unless --no-wait; reads are linearizable unless --consistency local.
    """


@tx.command("put")
@click.argument("key")
@click.argument("value")
@_map_option
@click.option("--no-wait", is_flag=True, help="Return once executed (Pending), not once committed.")
@click.option(
    "--if-version",
    "expected_version",
    type=click.IntRange(min=0),
    default=None,
    help="Write only if KEY's version (see 'get') is still this; 0: only if KEY is absent.",
)
@_connection_options
def put(
    *,
    key: str,
    value: str,
    map_name: str,
    no_wait: bool,
    expected_version: int | None,
    workspace_dir: Path | None,
    identity: str,
    json_output: bool,
) -> None:
    """Write VALUE at KEY."""
    with _client(workspace_dir, identity) as client:
        result = client.put(
            map_name, key.encode(), msgpack.packb(value), wait=not no_wait, expected_version=expected_version
        )
    _report_write(result, json_output)


@tx.command("delete")
@click.argument("key")
@_map_option
@click.option("--no-wait", is_flag=True, help="Return once executed (Pending), not once committed.")
@_connection_options
def delete(
    *, key: str, map_name: str, no_wait: bool, workspace_dir: Path | None, identity: str, json_output: bool
) -> None:
    """Remove KEY (removing a missing key is not an error)."""
    with _client(workspace_dir, identity) as client:
        result = client.delete(map_name, key.encode(), wait=not no_wait)
    _report_write(result, json_output)


def _consistency_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--consistency",
        type=click.Choice([c.value for c in Consistency]),
        default=Consistency.LINEARIZABLE.value,
        show_default=True,
        help="'local' reads this node's committed state, possibly stale, and says which TxID it reflects.",
    )(command)


@tx.command("get")
@click.argument("key")
@_map_option
@_consistency_option
@_connection_options
def get(
    *, key: str, map_name: str, consistency: str, workspace_dir: Path | None, identity: str, json_output: bool
) -> None:
    """Read KEY; a missing key prints null (JSON) or nothing found, and is not an error."""
    with _client(workspace_dir, identity) as client:
        result = client.get(map_name, key.encode(), consistency=Consistency(consistency))
    value = None if result.value is None else _decode_value(result.value)
    txid = format_txid(result.txid)
    if json_output:
        click.echo(json.dumps({"key": key, "value": value, "txid": txid, "version": result.version}))
    elif value is None:
        click.echo(f"{key}: not found (as of {txid})")
    else:
        click.echo(f"{key} = {value} (version {result.version}, as of {txid})")


@tx.command("scan")
@_map_option
@click.option("--prefix", default="", help="Only keys starting with this.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@_consistency_option
@_connection_options
def scan(
    *,
    map_name: str,
    prefix: str,
    limit: int,
    consistency: str,
    workspace_dir: Path | None,
    identity: str,
    json_output: bool,
) -> None:
    """The keys of a map in byte order (at most --limit), with their values."""
    start = prefix.encode()
    with _client(workspace_dir, identity) as client:
        result = client.scan(
            map_name, start=start, end=_prefix_end(start), limit=limit, consistency=Consistency(consistency)
        )
    items = [{"key": _text(item.key), "value": _decode_value(item.value)} for item in result.items]
    txid = format_txid(result.txid)
    if json_output:
        click.echo(json.dumps({"items": items, "txid": txid}))
        return
    for item in items:
        click.echo(f"{item['key']} = {item['value']}")
    click.echo(f"({len(items)} keys, as of {txid})")


@tx.command("call")
@click.argument("procedure")
@click.option(
    "--arg",
    "arguments",
    multiple=True,
    metavar="NAME=VALUE",
    help='A procedure argument; VALUE is JSON if it parses (5, true, "x"), else a string. Repeatable.',
)
@click.option("--no-wait", is_flag=True, help="Return once executed (Pending), not once committed.")
@_connection_options
def call(
    *,
    procedure: str,
    arguments: tuple[str, ...],
    no_wait: bool,
    workspace_dir: Path | None,
    identity: str,
    json_output: bool,
) -> None:
    """Run PROCEDURE (e.g. smallbank.balance; see docs/apps.md) as one transaction."""
    args = dict(_argument(text) for text in arguments)
    with _client(workspace_dir, identity) as client:
        outcome = client.call(procedure, args, wait=not no_wait)
    report = {
        "txid": format_txid(outcome.txid),
        "status": outcome.status.value,
        "result": _jsonable(outcome.result),
    }
    if json_output:
        click.echo(json.dumps(report))
    else:
        click.echo(f"{report['txid']} {report['status']}: {json.dumps(report['result'])}")
    if outcome.status is TxStatus.INVALID:
        raise click.exceptions.Exit(1)


def _argument(text: str) -> tuple[str, object]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--arg")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


def _prefix_end(prefix: bytes) -> bytes | None:
    """The first key after every key that starts with `prefix` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    return None if not trimmed else trimmed[:-1] + bytes([trimmed[-1] + 1])


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.hex()


def _jsonable(value: object) -> object:
    """A procedure's msgpack result as JSON: bytes become text when UTF-8, else {"hex": ...}."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return {"hex": value.hex()}
    if isinstance(value, dict):
        return {str(_jsonable(key)): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


@tx.command("status")
@click.argument("txid", metavar="TXID")
@_connection_options
def status(txid: str, workspace_dir: Path | None, identity: str, json_output: bool) -> None:
    """CCF's status of TXID (view.seqno): Unknown, Pending, Committed or Invalid."""
    ref = _parse_txid(txid)
    with _client(workspace_dir, identity) as client:
        result = client.status(ref)
    if json_output:
        click.echo(json.dumps({"txid": format_txid(result.txid), "status": result.status.value}))
    else:
        click.echo(f"{format_txid(result.txid)} {result.status.value}")


@tx.command("receipt")
@click.argument("txid", metavar="TXID")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write CCF's JSON receipt to this file (verify it with 'sealchain receipt verify').",
)
@_connection_options
def receipt(
    txid: str, out: Path | None, workspace_dir: Path | None, identity: str, json_output: bool
) -> None:
    """CCF's JSON receipt of committed TXID: verifiable offline with the service certificate alone."""
    ref = _parse_txid(txid)
    with _client(workspace_dir, identity) as client:
        result = client.receipt(ref)
    if out is None:
        click.echo(result.receipt_json)
        return
    out.write_text(result.receipt_json)
    if json_output:
        click.echo(json.dumps({"txid": format_txid(ref), "receipt": str(out)}))
    else:
        click.echo(f"receipt of {format_txid(ref)} written to {out}")


def _decode_value(raw: bytes) -> Any:
    """Values written by this CLI are msgpack; anything else is shown as hex rather than failing."""
    try:
        return msgpack.unpackb(raw)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        return {"hex": raw.hex()}
