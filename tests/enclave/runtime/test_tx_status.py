"""CCF's transaction status rule over a ledger writer's history."""

from __future__ import annotations

import random

import pytest

from enclave.crypto.identity import ServiceIdentity
from enclave.crypto.keys import MIN_ENTROPY_BYTES, identity_key_from_entropy
from enclave.kv.write_set import MapWrites, WriteSet
from enclave.ledger.ledger_secrets import LedgerSecret, LedgerSecrets
from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.writer import LedgerWriter
from enclave.runtime.messages import TxRef, TxStatus
from enclave.runtime.tx_status import tx_status
from tests.sim.world import EPOCH

WRITE = WriteSet({"m": MapWrites(writes={b"k": b"v"})})


@pytest.fixture(scope="module")
def writer() -> LedgerWriter:
    """Seqnos 1-2 in view 2, 3-4 in view 3."""
    rng = random.Random(3)
    service = ServiceIdentity.create(
        rng.randbytes(MIN_ENTROPY_BYTES), not_before=EPOCH, not_after=EPOCH.replace(year=2027)
    )
    node = service.endorse(
        identity_key_from_entropy(rng.randbytes(MIN_ENTROPY_BYTES)),
        ["127.0.0.1"],
        not_before=EPOCH,
        not_after=EPOCH.replace(year=2027),
    )
    writer = LedgerWriter(node, LedgerSecrets.single(LedgerSecret(rng.randbytes(32))), SignaturePolicy(), 0)
    for view in (2, 2, 3, 3):
        writer.append(WRITE, view)
    return writer


@pytest.mark.parametrize(
    ("view", "seqno", "status"),
    [
        (2, 1, TxStatus.COMMITTED),
        (2, 2, TxStatus.COMMITTED),
        (3, 3, TxStatus.PENDING),
        (2, 3, TxStatus.INVALID),  # truncated: a later view holds its seqno
        (1, 2, TxStatus.INVALID),  # committed with another view
        (4, 4, TxStatus.UNKNOWN),  # a view this node has not seen at that seqno
        (3, 5, TxStatus.UNKNOWN),  # beyond the ledger
        (0, 0, TxStatus.UNKNOWN),
    ],
)
def test_status_by_view_and_seqno(writer: LedgerWriter, view: int, seqno: int, status: TxStatus) -> None:
    assert tx_status(TxRef(view, seqno), writer, commit_seqno=2) is status
