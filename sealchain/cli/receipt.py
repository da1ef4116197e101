"""`sealchain receipt verify`: checks a CCF JSON receipt offline against the service certificate."""

from __future__ import annotations

import json
from pathlib import Path

import click
from cryptography import x509

from enclave.crypto.certs import CertificateFormatError, load_certificate_pem
from enclave.ledger.receipts import Receipt, ReceiptFormatError, ReceiptInvalidError, verify_receipt
from sealchain.cli.errors import CliError, json_option


@click.group("receipt")
def receipt() -> None:
    """Verify transaction receipts offline."""


@receipt.command("verify")
@click.argument("receipt_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--service-cert",
    "service_cert_file",
    metavar="PEM",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The service certificate the receipt must chain to.",
)
@json_option
def verify(receipt_file: Path, service_cert_file: Path, json_output: bool) -> None:
    """Check that FILE proves its transaction is in the service's ledger (exit 1 when it does not)."""
    service_cert = load_service_cert(service_cert_file)
    try:
        parsed = Receipt.from_json(json.loads(receipt_file.read_bytes()))
    except ReceiptFormatError as exc:
        raise CliError("receipt_malformed", f"{receipt_file}: {exc}") from exc
    except ValueError as exc:
        raise CliError("receipt_malformed", f"{receipt_file} is not JSON: {exc}") from exc
    try:
        txid = verify_receipt(parsed, service_cert)
    except ReceiptInvalidError as exc:
        raise CliError("receipt_invalid", f"receipt is not valid: {exc}") from exc
    if json_output:
        click.echo(json.dumps({"valid": True, "txid": str(txid), "node_id": parsed.node_id}))
    else:
        click.echo(f"receipt valid: transaction {txid}, signed by node {parsed.node_id}")


def load_service_cert(path: Path) -> x509.Certificate:
    try:
        return load_certificate_pem(path.read_bytes())
    except CertificateFormatError as exc:
        raise CliError("bad_service_cert", f"{path}: {exc}") from exc
