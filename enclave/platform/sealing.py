"""Sealing: data only this trusted code on this machine can read back (DESIGN.md section 4, restart).

Like SGX's MRENCLAVE sealing policy: the key is HKDF-SHA256 of the machine's sealing secret with the
platform name and the measurement, so other code or another machine derives another key. Layout, version 1:

    magic "SCSL" | version u16 | machine id (16) | measurement (32) | nonce (12) | AES-256-GCM ciphertext+tag

The header is public and lets unsealing name the reason for a refusal before trying the key; it is
authenticated as AAD together with the caller's sealing context (e.g. b"ledger secrets"), so changing
either fails. The 12-byte nonce comes from the `RandomBytes` callable the host injects (`os.urandom`);
with a random 96-bit nonce one key is good for far more seals than a node ever makes (NIST SP 800-38D 8.3).
"""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave.platform.api import MEASUREMENT_SIZE, Measurement, PlatformName, RandomBytes
from enclave.platform.errors import (
    MalformedSealedBlob,
    SealedBlobTampered,
    SealedForOtherCode,
    SealedOnOtherMachine,
    UnsupportedSealedBlobVersion,
)
from enclave.platform.wire import StrictReader, sized

SEALED_MAGIC = b"SCSL"
SEALED_VERSION = 1
SEALING_SECRET_SIZE = 32
MACHINE_ID_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
_KEY_LABEL = b"sealchain sealing key v1"
_MACHINE_ID_LABEL = b"sealchain sealing machine id v1"


def _hkdf(secret: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


class Sealer:
    """Seals to one (machine sealing secret, platform, measurement); unseals only what it sealed."""

    __slots__ = ("_aead", "_machine_id", "_measurement", "_random_bytes")

    def __init__(
        self,
        sealing_secret: bytes,
        platform: PlatformName,
        measurement: Measurement,
        random_bytes: RandomBytes,
    ) -> None:
        if len(sealing_secret) != SEALING_SECRET_SIZE:
            raise ValueError(f"the sealing secret must be {SEALING_SECRET_SIZE} bytes")
        if len(measurement) != MEASUREMENT_SIZE:
            raise ValueError(f"the measurement must be {MEASUREMENT_SIZE} bytes")
        platform_info = sized(platform.value.encode("ascii"), 1)
        # The machine id is a one-way function of the secret: it identifies, it does not reveal.
        self._machine_id = _hkdf(sealing_secret, _MACHINE_ID_LABEL + platform_info, MACHINE_ID_SIZE)
        self._aead = AESGCM(_hkdf(sealing_secret, _KEY_LABEL + platform_info + measurement, 32))
        self._measurement = measurement
        self._random_bytes = random_bytes

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = self._random_bytes(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise ValueError(f"the injected randomness returned {len(nonce)} bytes, not {NONCE_SIZE}")
        header = b"".join(
            [SEALED_MAGIC, SEALED_VERSION.to_bytes(2, "big"), self._machine_id, self._measurement, nonce]
        )
        return header + self._aead.encrypt(nonce, plaintext, header + context)

    def unseal(self, sealed: bytes, context: bytes) -> bytes:
        reader = StrictReader(sealed, MalformedSealedBlob)
        if reader.take(len(SEALED_MAGIC), "magic") != SEALED_MAGIC:
            raise MalformedSealedBlob("not a sealed blob (bad magic)")
        version = reader.uint(2, "version")
        if version != SEALED_VERSION:
            raise UnsupportedSealedBlobVersion(f"sealed blob version {version}, not {SEALED_VERSION}")
        machine_id = reader.take(MACHINE_ID_SIZE, "machine id")
        measurement = reader.take(MEASUREMENT_SIZE, "measurement")
        nonce = reader.take(NONCE_SIZE, "nonce")
        ciphertext = reader.rest()
        header = sealed[: len(sealed) - len(ciphertext)]
        if len(ciphertext) < TAG_SIZE:
            raise MalformedSealedBlob(f"truncated: the ciphertext is shorter than its {TAG_SIZE}-byte tag")
        if not hmac.compare_digest(machine_id, self._machine_id):
            raise SealedOnOtherMachine("the blob was sealed on another machine")
        if measurement != self._measurement:
            raise SealedForOtherCode(f"the blob was sealed to measurement {measurement.hex()}")
        try:
            return self._aead.decrypt(nonce, ciphertext, header + context)
        except InvalidTag:
            raise SealedBlobTampered("the sealed blob or its context was modified") from None
