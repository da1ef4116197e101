"""The committed state as records the untrusted host may store (LMDB), and back.

The host sees three tables of opaque `key -> value` records and a version record; what it may learn:
An entry is encoded as `u32 BE len(map) || map || u32 BE len(key) || key || value`.
- `public`: key `SHA-256(u32 BE len(map) || map || key)` (fixed size: LMDB keys are at most 511 bytes),
  value `u64 BE version || tag || entry` where tag is HMAC-SHA256 over key, version and entry, so
  public state is readable in the clear but tampering is detected.
- `private`: key `key_id = HMAC-SHA256(id_key, u32 BE len(map) || map || key)`, so neither the map name
  nor the key is visible; value `nonce || AES-256-GCM(entry)`, with AAD `PRIVATE_AAD_LABEL || key_id ||
  nonce`. The nonce carries the version, so the AAD binds the record to its key id (hence map name and
  key) and version; a record moved to another key id or re-dated fails authentication.
- the version record: `u64 BE commit version || HMAC-SHA256` over it.

Nonce = `u64 BE version || u32 BE position`: the write's position in its version's write set in
canonical order (see `CommittedDelta`). It cannot repeat for different plaintexts: a committed version
is immutable (rollback below commit is refused; committed versions are never re-executed), so each
`(version, position)` names exactly one `(map, key, value)` forever, and sealing it twice produces the
identical ciphertext. Only committed state is sealed. The state key must therefore belong to one node's
copy of one service history (a fresh random key per node, kept sealed to the enclave).

Known limit: records are authenticated one by one; a host that drops a record, or puts back an older
sealed record of the same key, is not detected here (that needs a digest of the whole state bound to the
ledger); the ledger replay that follows a restart is the authority.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave.kv.committed_state import CommittedDelta, CommittedState, VersionedValue
from enclave.kv.write_set import is_public_map

STATE_KEY_SIZE = 32
PUBLIC_TABLE = "public"
PRIVATE_TABLE = "private"
TABLES = (PUBLIC_TABLE, PRIVATE_TABLE)
PRIVATE_AAD_LABEL = b"sealchain/kv-state/private/v1"
_PUBLIC_TAG_LABEL = b"sealchain/kv-state/public/v1"
_VERSION_TAG_LABEL = b"sealchain/kv-state/version/v1"
_NONCE = struct.Struct(">QI")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_TAG_SIZE = 32
_GCM_TAG_SIZE = 16


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as the host stores it, in table `table` (one of TABLES)."""

    table: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class StoredDeletion:
    table: str
    key: bytes


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """What the host writes in one LMDB transaction: the records, the deletions and the version record."""

    version: int
    version_record: bytes
    records: tuple[StoredRecord, ...]
    deletions: tuple[StoredDeletion, ...]


@dataclass(frozen=True, slots=True)
class StoredState:
    """Everything the host read back at start-up (version_record None: nothing was ever stored)."""

    version_record: bytes | None
    records: tuple[StoredRecord, ...]


class TamperedState(Exception):
    """A stored record or version record fails authentication or is malformed: the host's copy of the
    state was modified. Nothing is restored from it."""


class StateSealer:
    """Seals committed deltas for the host and unseals what it reads back, under one state key."""

    __slots__ = ("_aead", "_id_key", "_tag_key")

    def __init__(self, state_key: bytes) -> None:
        if len(state_key) != STATE_KEY_SIZE:
            raise ValueError(f"state key must be {STATE_KEY_SIZE} bytes, not {len(state_key)}")
        self._aead = AESGCM(_derive(state_key, b"encryption"))
        self._id_key = _derive(state_key, b"private key id")
        self._tag_key = _derive(state_key, b"record tag")

    def seal(self, delta: CommittedDelta) -> SealedBatch:
        """The records that bring a host copy at `delta.from_version` to `delta.to_version`."""
        records: list[StoredRecord] = []
        deletions: list[StoredDeletion] = []
        for map_name, changes in delta.changes.items():
            public = is_public_map(map_name)
            name = _length_prefixed(map_name.encode())
            for key, (version, position, value) in changes.items():
                if public:
                    record_key = hashlib.sha256(name + key).digest()
                    if value is None:
                        deletions.append(StoredDeletion(PUBLIC_TABLE, record_key))
                    else:
                        sealed = self._seal_public(record_key, version, name + _length_prefixed(key) + value)
                        records.append(StoredRecord(PUBLIC_TABLE, record_key, sealed))
                    continue
                key_id = self._key_id(name, key)
                if value is None:
                    deletions.append(StoredDeletion(PRIVATE_TABLE, key_id))
                else:
                    nonce = _NONCE.pack(version, position)
                    entry = name + _length_prefixed(key) + value
                    sealed = nonce + self._aead.encrypt(nonce, entry, PRIVATE_AAD_LABEL + key_id + nonce)
                    records.append(StoredRecord(PRIVATE_TABLE, key_id, sealed))
        version_record = self._version_record(delta.to_version)
        return SealedBatch(delta.to_version, version_record, tuple(records), tuple(deletions))

    def unseal(self, stored: StoredState) -> CommittedState:
        """The committed state in `stored`; raises TamperedState on any record that fails its check."""
        if stored.version_record is None:
            if stored.records:
                raise TamperedState("records stored without a version record")
            return CommittedState()
        commit_version = self._check_version_record(stored.version_record)
        maps: dict[str, dict[bytes, VersionedValue]] = {}
        for record in stored.records:
            if record.table == PUBLIC_TABLE:
                version, entry = self._unseal_public(record)
            elif record.table == PRIVATE_TABLE:
                version, entry = self._unseal_private(record)
            else:
                raise TamperedState(f"record in unknown table {record.table!r}")
            map_name, key, value = _decode_entry(entry)
            if is_public_map(map_name) != (record.table == PUBLIC_TABLE):
                raise TamperedState(f"record of map {map_name!r} stored in table {record.table!r}")
            if not 1 <= version <= commit_version:
                raise TamperedState(
                    f"record of {map_name!r} has version {version}, commit is {commit_version}"
                )
            maps.setdefault(map_name, {})[key] = VersionedValue(version, value)
        return CommittedState(commit_version, maps)

    def _seal_public(self, record_key: bytes, version: int, entry: bytes) -> bytes:
        header = _U64.pack(version)
        return header + self._tag(_PUBLIC_TAG_LABEL, record_key, header, entry) + entry

    def _unseal_public(self, record: StoredRecord) -> tuple[int, bytes]:
        header, tag = record.value[:8], record.value[8 : 8 + _TAG_SIZE]
        entry = record.value[8 + _TAG_SIZE :]
        if len(tag) != _TAG_SIZE or not hmac.compare_digest(
            tag, self._tag(_PUBLIC_TAG_LABEL, record.key, header, entry)
        ):
            raise TamperedState(f"public record {record.key.hex()} fails its integrity check")
        version: int = _U64.unpack(header)[0]
        return version, entry

    def _unseal_private(self, record: StoredRecord) -> tuple[int, bytes]:
        nonce, ciphertext = record.value[: _NONCE.size], record.value[_NONCE.size :]
        if len(nonce) != _NONCE.size or len(ciphertext) < _GCM_TAG_SIZE:
            raise TamperedState(f"private record {record.key.hex()} is truncated")
        try:
            entry = self._aead.decrypt(nonce, ciphertext, PRIVATE_AAD_LABEL + record.key + nonce)
        except InvalidTag as error:
            raise TamperedState(f"private record {record.key.hex()} fails authentication") from error
        version: int = _NONCE.unpack(nonce)[0]
        return version, entry

    def _key_id(self, length_prefixed_name: bytes, key: bytes) -> bytes:
        return hmac.digest(self._id_key, length_prefixed_name + key, hashlib.sha256)

    def _tag(self, label: bytes, *parts: bytes) -> bytes:
        mac = hmac.new(self._tag_key, label, hashlib.sha256)
        for part in parts:
            mac.update(_length_prefixed(part))
        return mac.digest()

    def _version_record(self, version: int) -> bytes:
        header = _U64.pack(version)
        return header + self._tag(_VERSION_TAG_LABEL, header)

    def _check_version_record(self, record: bytes) -> int:
        header, tag = record[:8], record[8:]
        if len(header) != 8 or not hmac.compare_digest(tag, self._tag(_VERSION_TAG_LABEL, header)):
            raise TamperedState("the stored commit version fails its integrity check")
        version: int = _U64.unpack(header)[0]
        return version


def _derive(state_key: bytes, purpose: bytes) -> bytes:
    """One key per purpose from the state key (HKDF-SHA256), so no key serves two algorithms."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"sealchain/kv-state/" + purpose).derive(state_key)


def _length_prefixed(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def _decode_entry(entry: bytes) -> tuple[str, bytes, bytes]:
    """`(map name, key, value)` from an authenticated entry (see the module docstring)."""
    name_length = _U32.unpack_from(entry)[0]
    name_end = 4 + name_length
    key_length = _U32.unpack_from(entry, name_end)[0]
    key_end = name_end + 4 + key_length
    return entry[4:name_end].decode(), entry[name_end + 4 : key_end], entry[key_end:]
