"""What a nemesis run must show once healed: each check raises AssertionError saying what went wrong."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from enclave.ledger.entry import decode_entry
from enclave.ledger.reading import ledger_chunks, read_entries
from enclave.runtime.messages import TxRef
from tests.checker.history import Operation
from tests.checker.linearizability import Linearizable, check, the_check_catches_a_stale_read_in
from tests.nemesis.workload import REGISTERS, AcknowledgedWrite


def no_node_stopped_on_its_own(stopped: Sequence[str]) -> str:
    """No node process exited unless the nemesis killed it (a node stops on an internal error)."""
    assert not stopped, f"nodes stopped on their own (see their node.log): {list(stopped)}"
    return "no node stopped on its own"


def history_linearizes(operations: list[Operation]) -> str:
    """The register history (final reads included) is linearizable, a history too big to decide fails;
    and the same history with one read made stale is not, so the history holds enough overlapping reads
    and writes for the verdict to mean something."""
    result = check(operations)
    assert isinstance(result, Linearizable), result
    the_check_catches_a_stale_read_in(operations)
    return f"linearizable ({result.checked} operations checked; a stale read would be caught)"


def acknowledged_writes_are_in_the_ledger(
    acknowledged: Sequence[AcknowledgedWrite], ledger_dir: Path, commit_seqno: int
) -> str:
    """Every write acknowledged Committed is in the committed ledger at the TxID it was acknowledged with:
    none was lost or replaced by a later leader."""
    written = committed_register_writes(ledger_dir, commit_seqno)
    lost = [write for write in acknowledged if written.get((write.key, write.value)) != write.txid]
    assert not lost, (
        f"{len(lost)} of {len(acknowledged)} acknowledged writes are not in the committed ledger "
        f"(up to {commit_seqno}) at their TxID, e.g. {lost[:3]} (the ledger has "
        f"{[written.get((write.key, write.value)) for write in lost[:3]]})"
    )
    return f"all {len(acknowledged)} acknowledged writes in the ledger at their TxID"


def committed_register_writes(ledger_dir: Path, commit_seqno: int) -> dict[tuple[bytes, bytes], TxRef]:
    """(key, value) -> TxID of every register write in the ledger up to `commit_seqno`."""
    chunks = ledger_chunks(os.listdir(ledger_dir))
    written: dict[tuple[bytes, bytes], TxRef] = {}
    for chunk_entry in read_entries(chunks, lambda name: (ledger_dir / name).read_bytes()):
        if chunk_entry.seqno > commit_seqno:
            break
        entry = decode_entry(chunk_entry.raw)
        registers = entry.public_maps.get(REGISTERS)
        if registers is not None:
            for key, value in registers.writes.items():
                written[key, value] = TxRef(entry.txid.view, entry.txid.seqno)
    return written


def money_is_conserved(total: int, opening_total: int) -> str:
    assert total == opening_total, f"the accounts hold {total} in all, {opening_total} was put in"
    return f"money conserved ({total})"
