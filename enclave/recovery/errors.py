"""Why recovery material is refused. Every error is a `RecoveryError` (a `ValueError`), and a refused input
changes nothing: the functions of this package are pure."""

from __future__ import annotations


class RecoveryError(ValueError):
    """Recovery shares, their issuance or the ledger secret chain cannot be used as given."""


class InvalidSharingParameters(RecoveryError):
    """A threshold or share count outside 1 <= threshold <= count <= 255, or an empty secret."""


class InvalidRecoveryMembers(RecoveryError):
    """No recovery members, the same member twice, or more than 255 of them."""


class InvalidMemberKey(RecoveryError):
    """A member encryption key that is not an RSA key of at least 2048 bits in PEM."""


class UnknownRecoveryMember(RecoveryError):
    """A member that the issuance gave no share to (not a recovery member when the shares were issued)."""


class InvalidShare(RecoveryError):
    """A share that is malformed (index 0, empty or wrong-length value), or shares that conflict."""


class UndecryptableShare(RecoveryError):
    """An encrypted share that this member's private key does not decrypt: the wrong key, or a damaged
    share."""


class NotEnoughShares(RecoveryError):
    """Fewer distinct shares than the threshold of the issuance they are meant for."""


class WrongShares(RecoveryError):
    """Enough shares, but the key they combine to does not unwrap the ledger secret: at least one share is
    forged, damaged, or belongs to another issuance."""


class ChainBroken(RecoveryError):
    """A previous ledger secret that does not decrypt under the newer one: the chain was tampered with, or
    the wrong newer secret was used."""


class RecoveryFormatError(RecoveryError):
    """Recovery bytes read back from the KV or the ledger that do not parse strictly."""
