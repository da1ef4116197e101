"""CCF's transaction status rule, by view and seqno (DESIGN.md section 6; CCF `get_tx_status`)."""

from __future__ import annotations

from enclave.ledger.writer import LedgerWriter
from enclave.runtime.messages import TxRef, TxStatus


def tx_status(txid: TxRef, writer: LedgerWriter, commit_seqno: int) -> TxStatus:
    """Committed: the entry at `seqno` has this view and is committed. Pending: it has this view and is
    not committed yet. Invalid: another view holds `seqno` and either it is committed or its view is
    later (the transaction was truncated and can never commit). Unknown otherwise (not seen here)."""
    if txid.seqno < 1 or txid.seqno > writer.last_txid.seqno:
        return TxStatus.UNKNOWN
    view = writer.view_at(txid.seqno)
    if view == txid.view:
        return TxStatus.COMMITTED if txid.seqno <= commit_seqno else TxStatus.PENDING
    if txid.seqno <= commit_seqno or view > txid.view:
        return TxStatus.INVALID
    return TxStatus.UNKNOWN
