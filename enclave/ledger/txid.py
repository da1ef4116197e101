"""Transaction ids (CCF): `view.seqno`, the Raft term in which an entry was appended and its index."""

from __future__ import annotations

from dataclasses import dataclass


class TxIdFormatError(ValueError):
    """Text that is not `V.S` with non-negative integers."""


@dataclass(frozen=True, slots=True, order=True)
class TxId:
    view: int
    seqno: int

    def __str__(self) -> str:
        return f"{self.view}.{self.seqno}"

    @classmethod
    def parse(cls, text: str) -> TxId:
        view, sep, seqno = text.partition(".")
        if not sep or not view.isdigit() or not seqno.isdigit():
            raise TxIdFormatError(f"not a transaction id (view.seqno): {text!r}")
        return cls(int(view), int(seqno))
