"""Shamir's secret sharing over GF(2^8), byte by byte (Shamir 1979, "How to share a secret").

Each byte of the secret is the constant term of its own random polynomial of degree `threshold - 1`; share
`x` (1..255) holds every polynomial evaluated at `x`. Any `threshold` shares give the polynomials back by
Lagrange interpolation at 0; fewer leave every value of the secret equally likely. The field is AES's
(x^8 + x^4 + x^3 + x + 1), where addition is XOR.

This is pure Python and not constant-time: it runs inside the enclave on data that never leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from enclave.platform.api import RandomBytes
from enclave.recovery.errors import InvalidShare, InvalidSharingParameters

MAX_SHARES = 255
_AES_POLYNOMIAL = 0x11B
_GENERATOR = 0x03


def _log_tables() -> tuple[list[int], list[int]]:
    """EXP[i] = 3^i (doubled in length so a sum of two logs needs no reduction) and LOG, its inverse."""
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = exp[power + 255] = value
        log[value] = power
        # value * 3 = value * 2 XOR value, reducing by the AES polynomial on overflow
        doubled = value << 1
        if doubled & 0x100:
            doubled ^= _AES_POLYNOMIAL
        value = doubled ^ value
    return exp, log


_EXP, _LOG = _log_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    assert b != 0, "division by zero in GF(2^8)"
    if a == 0:
        return 0
    return _EXP[_LOG[a] + 255 - _LOG[b]]


@dataclass(frozen=True, slots=True)
class Share:
    """One point of every byte's polynomial: x = `index`, y = the bytes of `value`."""

    index: int
    value: bytes

    def __post_init__(self) -> None:
        if not 1 <= self.index <= MAX_SHARES:
            raise InvalidShare(f"a share index is 1..{MAX_SHARES}, got {self.index}: this is not a share")
        if not self.value:
            raise InvalidShare("a share has at least one byte of value: this one is empty")

    def __repr__(self) -> str:
        # A share is secret material: no printer (test report, log) shows its value.
        return f"Share(index={self.index}, value=<{len(self.value)} bytes>)"

    def to_bytes(self) -> bytes:
        """The index byte, then the value."""
        return bytes((self.index,)) + self.value

    @classmethod
    def from_bytes(cls, data: bytes) -> Share:
        """Strict inverse of `to_bytes`; `InvalidShare` for fewer than two bytes or index 0."""
        if len(data) < 2:
            raise InvalidShare(f"a share is an index byte and a value, got {len(data)} bytes")
        return cls(index=data[0], value=bytes(data[1:]))


def split(secret: bytes, threshold: int, count: int, random_bytes: RandomBytes) -> list[Share]:
    """`count` shares of `secret`, any `threshold` of which reconstruct it (Shamir, over GF(2^8))."""
    if not secret:
        raise InvalidSharingParameters("there is nothing to share: the secret is empty")
    if not 1 <= threshold <= count <= MAX_SHARES:
        raise InvalidSharingParameters(
            f"need 1 <= threshold <= count <= {MAX_SHARES}, got threshold {threshold} and count {count}"
        )
    randomness = random_bytes((threshold - 1) * len(secret))
    # coefficients[d][b]: the coefficient of x^(d+1) in the polynomial of byte b
    coefficients = [randomness[d * len(secret) : (d + 1) * len(secret)] for d in range(threshold - 1)]
    shares = []
    for x in range(1, count + 1):
        value = bytearray(len(secret))
        for position, constant in enumerate(secret):
            # Horner's rule from the highest degree down to the secret byte itself
            y = 0
            for coefficient in reversed(coefficients):
                y = _mul(y, x) ^ coefficient[position]
            value[position] = _mul(y, x) ^ constant
        shares.append(Share(index=x, value=bytes(value)))
    return shares


def combine(shares: Sequence[Share]) -> bytes:
    """The secret at x = 0 of the polynomials through every given share (Lagrange interpolation).

    With fewer shares than the threshold the result is some value, not the secret: how many shares are
    needed is the caller's knowledge. `InvalidShare` for no shares, mixed lengths, or a repeated index.
    """
    if not shares:
        raise InvalidShare("no shares to combine: submit at least one")
    length = len(shares[0].value)
    if any(len(share.value) != length for share in shares):
        raise InvalidShare("shares of different lengths cannot be of the same secret: check their origin")
    indices = [share.index for share in shares]
    if len(set(indices)) != len(indices):
        raise InvalidShare(f"each share index may appear once, got {sorted(indices)}")
    secret = bytearray(length)
    for share in shares:
        # The Lagrange basis polynomial of this share, at 0: prod x_j / (x_j - x_i), minus being XOR.
        weight = 1
        for other in indices:
            if other != share.index:
                weight = _mul(weight, _div(other, other ^ share.index))
        for position, y in enumerate(share.value):
            secret[position] ^= _mul(weight, y)
    return bytes(secret)
