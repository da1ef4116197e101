"""CCF's JSON receipt for a committed transaction, and its offline verification.

A receipt proves that the transaction at `V.S` is in the ledger: its leaf (from `leaf_components`) folds
along `proof` to a Merkle root that a node signed, and that node's certificate is endorsed by the service
certificate. Verification needs nothing but the receipt and the service certificate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from enclave.crypto.certs import (
    CertificateFormatError,
    certificate_public_key,
    is_endorsed_by,
    load_certificate_pem,
)
from enclave.crypto.ids import NodeId, node_id_of
from enclave.crypto.keys import verify_digest
from enclave.ledger.merkle import DIGEST_SIZE, ProofStep, fold_path, leaf_digest
from enclave.ledger.txid import TxId

_COMMIT_EVIDENCE = re.compile(r"ce:(\d+)\.(\d+):([0-9a-f]{64})")


class ReceiptFormatError(ValueError):
    """A receipt document that is not CCF's JSON receipt shape."""


class ReceiptInvalidError(ValueError):
    """A well-formed receipt that does not prove what it claims; the message says which check failed."""


@dataclass(frozen=True, slots=True)
class Receipt:
    cert_pem: str
    node_id: NodeId
    write_set_digest: bytes
    commit_evidence: str
    claims_digest: bytes
    proof: tuple[ProofStep, ...]
    signature: bytes
    service_endorsements: tuple[str, ...] = ()

    @property
    def txid(self) -> TxId:
        match = _COMMIT_EVIDENCE.fullmatch(self.commit_evidence)
        if match is None:
            raise ReceiptFormatError(f"commit evidence is not ce:V.S:<hex>: {self.commit_evidence!r}")
        return TxId(int(match[1]), int(match[2]))

    def leaf(self) -> bytes:
        evidence_digest = hashlib.sha256(self.commit_evidence.encode()).digest()
        return leaf_digest(self.write_set_digest, evidence_digest, self.claims_digest)

    def root(self) -> bytes:
        return fold_path(self.leaf(), list(self.proof))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "cert": self.cert_pem,
            "node_id": self.node_id,
            "leaf_components": {
                "write_set_digest": self.write_set_digest.hex(),
                "commit_evidence": self.commit_evidence,
                "claims_digest": self.claims_digest.hex(),
            },
            "proof": [{step.side: step.digest.hex()} for step in self.proof],
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }
        if self.service_endorsements:
            document["service_endorsements"] = list(self.service_endorsements)
        return document

    @classmethod
    def from_json(cls, document: object) -> Receipt:
        try:
            if not isinstance(document, dict):
                raise TypeError("a receipt is a JSON object")
            leaf = document["leaf_components"]
            proof = tuple(_proof_step(step) for step in document["proof"])
            receipt = cls(
                cert_pem=_text(document["cert"]),
                node_id=NodeId(_text(document["node_id"])),
                write_set_digest=_digest(leaf["write_set_digest"]),
                commit_evidence=_text(leaf["commit_evidence"]),
                claims_digest=_digest(leaf["claims_digest"]),
                proof=proof,
                signature=base64.b64decode(_text(document["signature"]), validate=True),
                service_endorsements=tuple(_text(e) for e in document.get("service_endorsements", [])),
            )
        except KeyError as exc:
            raise ReceiptFormatError(f"not a CCF JSON receipt: missing field {exc}") from exc
        except (TypeError, ValueError, binascii.Error) as exc:
            raise ReceiptFormatError(f"not a CCF JSON receipt: {exc}") from exc
        receipt.txid  # noqa: B018 -- validates the commit evidence's shape
        return receipt


def verify_receipt(receipt: Receipt, service_cert: x509.Certificate) -> TxId:
    """Checks a receipt against the service certificate and returns the TxID it proves.

    CCF's checks: the node certificate chains to the service certificate (through any service
    endorsements), the node id is that certificate's key, and the signature covers the recomputed root.
    """
    try:
        node_cert = load_certificate_pem(receipt.cert_pem.encode())
        endorsements = [load_certificate_pem(e.encode()) for e in receipt.service_endorsements]
    except CertificateFormatError as exc:
        raise ReceiptInvalidError(f"receipt certificate does not parse: {exc}") from exc
    chain = [node_cert, *endorsements, service_cert]
    for cert, issuer in itertools.pairwise(chain):
        if not is_endorsed_by(cert, issuer):
            raise ReceiptInvalidError("the node certificate is not endorsed by the service certificate")
    node_key = certificate_public_key(node_cert)
    if node_id_of(node_key) != receipt.node_id:
        raise ReceiptInvalidError("node_id is not the id of the certificate's key")
    if not verify_digest(node_key, receipt.root(), receipt.signature):
        raise ReceiptInvalidError("the signature does not cover the root recomputed from leaf and proof")
    return receipt.txid


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _digest(value: object) -> bytes:
    digest = bytes.fromhex(_text(value))
    if len(digest) != DIGEST_SIZE:
        raise ValueError("digests are 32 bytes")
    return digest


def _proof_step(step: object) -> ProofStep:
    if not isinstance(step, dict) or len(step) != 1:
        raise TypeError("a proof step is {'left': hex} or {'right': hex}")
    ((side, digest),) = step.items()
    if side == "left":
        return ProofStep("left", _digest(digest))
    if side == "right":
        return ProofStep("right", _digest(digest))
    raise ValueError(f"proof step side {side!r}")
