"""`sealchain ledger verify|dump`: offline audit and reading of a ledger directory (CCF's chunk layout)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click
from cryptography import x509
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from enclave.kv.write_set import MapWrites
from enclave.ledger.audit import SNAPSHOT_FAILURE_SEQNO, AuditReport, audit_ledger
from enclave.ledger.entry import EntryFormatError, decode_entry
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecretError, LedgerSecrets
from enclave.ledger.reading import LedgerReadError, ledger_chunks, read_entries
from enclave.snapshots.format import parse_snapshot_file_name
from sealchain.cli.errors import CliError, json_option
from sealchain.cli.receipt import load_service_cert

LEDGER_DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group("ledger")
def ledger() -> None:
    """Audit and read ledger files offline."""


@ledger.command("verify")
@click.argument("directory", metavar="DIR", type=LEDGER_DIR)
@click.option(
    "--service-cert",
    "service_cert_file",
    metavar="PEM",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check node endorsements against this service certificate (default: the ledger's own).",
)
@click.option(
    "--snapshot",
    "snapshot_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The committed snapshot the ledger starts from, when it does not start at seqno 1 "
    "(default: the newest matching one in DIR/../snapshots).",
)
@json_option
def verify(
    directory: Path, service_cert_file: Path | None, snapshot_file: Path | None, json_output: bool
) -> None:
    """Check framing, signatures, Merkle roots and node endorsements of every entry in DIR.

    A ledger that starts after seqno 1 is checked from the snapshot it starts from, whose receipt must
    prove it. Prints the last verified transaction id, or the first bad entry's seqno and why (exit 1)."""
    service_cert: x509.Certificate | None = None
    if service_cert_file is not None:
        service_cert = load_service_cert(service_cert_file)
    names = os.listdir(directory)
    chunks = ledger_chunks(names)
    if snapshot_file is None and chunks and chunks[0].start != 1:
        snapshot_file = _snapshot_next_to(directory, chunks[0].start - 1)
        if snapshot_file is not None and not json_output:
            click.echo(f"the ledger starts at seqno {chunks[0].start}: using snapshot {snapshot_file}")
    snapshot = snapshot_file.read_bytes() if snapshot_file is not None else None
    total = max((c.end or c.start for c in chunks), default=0)
    with _progress(total, enabled=not json_output) as advance:
        report = audit_ledger(
            names, lambda name: (directory / name).read_bytes(), service_cert, advance, snapshot
        )
    _print_report(report, snapshot_file, json_output)


def _print_report(report: AuditReport, snapshot_file: Path | None, json_output: bool) -> None:
    """The verdict of `verify`: a summary (JSON or a sentence), then the failure as a CliError."""
    summary = {
        "ok": report.ok,
        "snapshot": str(snapshot_file) if snapshot_file is not None else None,
        "entries": report.entries,
        "signatures": report.signatures,
        "last_verified": str(report.last_verified) if report.last_verified else None,
        "unsigned_tail": report.unsigned_tail,
    }
    if report.failure is not None:
        summary |= {
            "first_bad_seqno": report.failure.seqno,
            "reason": report.failure.reason,
            "chunk": report.failure.chunk,
        }
    if json_output:
        click.echo(json.dumps(summary))
    elif report.last_verified is not None:
        after = f" after the snapshot at {report.snapshot}" if report.snapshot else ""
        click.echo(
            f"verified {report.entries - report.unsigned_tail} entries{after} and {report.signatures} "
            f"signatures up to {report.last_verified}"
            + (f"; {report.unsigned_tail} later entries await a signature" if report.unsigned_tail else "")
        )
    failure = report.failure
    if failure is not None and failure.seqno == SNAPSHOT_FAILURE_SEQNO:
        raise CliError("snapshot_invalid", f"{snapshot_file}: {failure.reason}")
    if failure is not None:
        where = f" in {failure.chunk}" if failure.chunk else ""
        raise CliError("ledger_invalid", f"ledger invalid at seqno {failure.seqno}{where}: {failure.reason}")


def _snapshot_next_to(directory: Path, seqno: int) -> Path | None:
    """The newest committed snapshot at `seqno` in the `snapshots` directory beside DIR (a node's layout:
    `ledger/` and `snapshots/` side by side), if there is one."""
    snapshots = directory.resolve().parent / "snapshots"
    if not snapshots.is_dir():
        return None
    found: list[tuple[int, Path]] = []  # (evidence seqno, file): the newest has the latest evidence
    for path in snapshots.iterdir():
        parsed = parse_snapshot_file_name(path.name)
        if parsed is not None and parsed[0] == seqno:
            found.append((parsed[1], path))
    return max(found)[1] if found else None


@ledger.command("dump")
@click.argument("directory", metavar="DIR", type=LEDGER_DIR)
@click.option(
    "--ledger-secret",
    "ledger_secret_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Decrypt private maps with this ledger secret (hex, or JSON {from_seqno: hex}).",
)
@json_option
def dump(directory: Path, ledger_secret_file: Path | None, json_output: bool) -> None:
    """Print each entry's public maps (and private maps when the ledger secret is given)."""
    secrets = _load_secrets(ledger_secret_file) if ledger_secret_file is not None else None
    chunks = ledger_chunks(os.listdir(directory))
    # Dump checks no signatures, so it reads a ledger that starts after a snapshot from its first chunk on.
    seqno = chunks[0].start if chunks else 1
    try:
        for item in read_entries(chunks, lambda name: (directory / name).read_bytes(), seqno):
            seqno = item.seqno
            entry = decode_entry(item.raw)
            private = entry.decrypt_private(secrets.secret_for(seqno)) if secrets is not None else None
            if json_output:
                record = {
                    "txid": str(entry.txid),
                    "public": _maps_json(entry.public_maps),
                    "private": _maps_json(private) if private is not None else None,
                    "private_size": entry.private_domain_size,
                }
                click.echo(json.dumps(record))
            else:
                _print_entry(
                    str(entry.txid), len(item.raw), entry.public_maps, private, entry.private_domain_size
                )
    except LedgerReadError as exc:
        raise CliError("ledger_invalid", f"cannot read on: {exc}") from exc
    except (EntryFormatError, LedgerSecretError) as exc:
        raise CliError("ledger_invalid", f"cannot read on at seqno {seqno}: {exc}") from exc


def _load_secrets(path: Path) -> LedgerSecrets:
    text = path.read_text().strip()
    try:
        by_seqno = {int(k): v for k, v in json.loads(text).items()} if text.startswith("{") else {1: text}
        secrets = LedgerSecrets()
        for seqno in sorted(by_seqno):
            secrets.add(seqno, LedgerSecret(bytes.fromhex(by_seqno[seqno])))
    except (ValueError, AttributeError) as exc:
        raise CliError("bad_ledger_secret", f"{path} does not hold a ledger secret: {exc}") from exc
    return secrets


def _text(data: bytes) -> str:
    """UTF-8 text when the bytes are printable text, else 0x-prefixed hex (CCF keys are often binary)."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return "0x" + data.hex()
    return text if text.isprintable() else "0x" + data.hex()


def _maps_json(maps: Mapping[str, MapWrites]) -> dict[str, object]:
    return {
        name: {
            "writes": {_text(k): _text(v) for k, v in writes.writes.items()},
            "removals": sorted(_text(k) for k in writes.removals),
        }
        for name, writes in maps.items()
    }


def _print_entry(
    txid: str,
    size: int,
    public: Mapping[str, MapWrites],
    private: Mapping[str, MapWrites] | None,
    private_size: int,
) -> None:
    click.echo(f"txid {txid} ({size} bytes)")
    for label, maps in (("public", public), ("private", private or {})):
        for name, writes in maps.items():
            click.echo(f"  {label} table {name!r}")
            for key, value in writes.writes.items():
                click.echo(f"    {_text(key)}: {_text(value)}")
            for key in sorted(writes.removals):
                click.echo(f"    removed {_text(key)}")
    if private is None and private_size:
        click.echo(f"  -- private: {private_size} encrypted bytes")


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long ledgers (rich hides it when stderr is not a terminal)."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("verify", total=total or None)

        def advance(seqno: int) -> None:
            progress.update(task, completed=seqno)

        yield advance
