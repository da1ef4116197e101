"""Ledger secrets (CCF): AES-256-GCM keys, each used from a starting seqno on, so the service can rekey.

The commit secret, whose HMACs are the commit evidence of each transaction, is derived from the ledger secret.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave.ledger.txid import TxId

LEDGER_SECRET_SIZE = 32
COMMIT_SECRET_LABEL = b"Commit secret label"


class LedgerSecretError(ValueError):
    """A ledger secret of the wrong size, a version out of order, or no secret for a seqno."""


class LedgerSecret:
    """One AES-256 key. A plain class, not a dataclass, so no printer (repr, test reports) ever shows it."""

    __slots__ = ("aead", "commit_secret", "key")

    def __init__(self, key: bytes) -> None:
        if len(key) != LEDGER_SECRET_SIZE:
            raise LedgerSecretError(f"a ledger secret is {LEDGER_SECRET_SIZE} bytes, got {len(key)}")
        self.key = key
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=COMMIT_SECRET_LABEL)
        self.commit_secret = hkdf.derive(key)
        self.aead = AESGCM(key)

    def __repr__(self) -> str:
        return "LedgerSecret(<sealed>)"

    def commit_evidence(self, txid: TxId) -> str:
        """CCF: `ce:V.S:` + hex HMAC-SHA256(commit secret, `V.S`); revealed only once the tx is committed."""
        nonce = hmac.new(self.commit_secret, str(txid).encode(), hashlib.sha256).hexdigest()
        return f"ce:{txid}:{nonce}"


@dataclass(slots=True)
class LedgerSecrets:
    """Ledger secrets by the seqno from which each applies (CCF: the ledger secret's version)."""

    _starts: list[int] = field(default_factory=list)
    _secrets: list[LedgerSecret] = field(default_factory=list)

    @classmethod
    def single(cls, secret: LedgerSecret, from_seqno: int = 1) -> LedgerSecrets:
        secrets = cls()
        secrets.add(from_seqno, secret)
        return secrets

    def add(self, from_seqno: int, secret: LedgerSecret) -> None:
        """Rekeying: `secret` encrypts every entry from `from_seqno` on."""
        if self._starts and from_seqno <= self._starts[-1]:
            raise LedgerSecretError(
                f"a new ledger secret must start after seqno {self._starts[-1]}, not at {from_seqno}"
            )
        self._starts.append(from_seqno)
        self._secrets.append(secret)

    def learn(self, from_seqno: int, secret: LedgerSecret) -> None:
        """A rekey seen in the ledger (replicated, or replayed after a restart): added unless this very
        version is known already (a joiner is given every version, then replays the rekeys)."""
        known = dict(self.versions())
        if from_seqno in known:
            if known[from_seqno].key != secret.key:
                raise LedgerSecretError(f"two different ledger secrets from seqno {from_seqno}")
            return
        self.add(from_seqno, secret)

    def rollback(self, keep_seqno: int) -> None:
        """Forget the secrets of rekeys after `keep_seqno` (the entries that carried them are gone; a
        rekey at seqno S starts its secret at S + 1)."""
        while len(self._starts) > 1 and self._starts[-1] > keep_seqno + 1:
            self._starts.pop()
            self._secrets.pop()

    def covers(self, seqno: int) -> bool:
        """Whether a secret applies to `seqno`: not for the ledger a recovered service inherited, until
        the members' shares restored its secrets (DESIGN.md 4.6)."""
        return bool(self._starts) and seqno >= self._starts[0]

    def secret_for(self, seqno: int) -> LedgerSecret:
        index = bisect.bisect_right(self._starts, seqno) - 1
        if index < 0:
            raise LedgerSecretError(f"no ledger secret applies to seqno {seqno}")
        return self._secrets[index]

    def versions(self) -> list[tuple[int, LedgerSecret]]:
        return list(zip(self._starts, self._secrets, strict=True))
