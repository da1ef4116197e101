"""Ledger entries in CCF's format (ccf-formats.md "Ledger files"; `ccf.ledger.Transaction` reads them).

    header       1 byte version (1), 1 byte flags, 6 bytes LE size of everything after the header
    GCM header   16-byte tag, 12-byte IV = seqno (8 bytes LE) || term (4 bytes LE, top bit: snapshot)
    u64 LE       size of the public domain
    public       entry type (4), i64 seqno, claims digest, commit-evidence digest, i64 reserved, public maps
    private      AES-256-GCM ciphertext of the private maps, with the public domain as additional data

Maps are serialised alike in both domains: per map a length-prefixed name, i64 read version, u64 read count
(always 0), u64 write count and length-prefixed key/value pairs, u64 removal count and length-prefixed keys.
Parsing is strict: every malformed input raises an `EntryFormatError` subclass and nothing else.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag

from enclave.kv.write_set import MapWrites, WriteSet, is_public_map
from enclave.ledger.ledger_secrets import LedgerSecret
from enclave.ledger.txid import TxId

ENTRY_FORMAT_V1 = 1
HEADER_SIZE = 8
GCM_TAG_SIZE = 16
GCM_IV_SIZE = 12
DOMAIN_SIZE_SIZE = 8
DIGEST_SIZE = 32
# CCF's EntryType::WriteSetWithCommitEvidenceAndClaims, the only non-deprecated write-set type.
ENTRY_TYPE_WRITE_SET = 4
MAX_ENTRY_SIZE = (1 << 48) - 1
MAX_TERM = (1 << 31) - 1  # the IV's top bit marks snapshots
NO_CLAIMS = bytes(DIGEST_SIZE)
_FIXED_PUBLIC_SIZE = 1 + 8 + DIGEST_SIZE + DIGEST_SIZE + 8
_BODY_PREFIX_SIZE = GCM_TAG_SIZE + GCM_IV_SIZE + DOMAIN_SIZE_SIZE


class EntryFormatError(ValueError):
    """Bytes that are not a well-formed ledger entry (the peer's or the disk's fault, never ours)."""


class TruncatedEntryError(EntryFormatError):
    """The input ends before the entry its header announces."""


class UnsupportedEntryError(EntryFormatError):
    """An entry format version or entry type this code does not write."""


class MalformedDomainError(EntryFormatError):
    """A public or private domain whose maps do not parse, or with bytes left over."""


class PrivateDomainAuthError(EntryFormatError):
    """The GCM tag does not authenticate the entry under the ledger secret (tampered, or the wrong secret)."""


@dataclass(frozen=True, slots=True)
class EntryFrame:
    """The outer framing of an entry, readable by the host without any secret."""

    txid: TxId
    flags: int
    size: int  # of the whole entry, header included


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """A parsed entry: its public maps in the clear, its private maps still encrypted."""

    txid: TxId
    flags: int
    claims_digest: bytes
    commit_evidence_digest: bytes
    public_maps: Mapping[str, MapWrites]
    raw: bytes = field(repr=False)
    # Offsets into `raw`, so the digest and decryption work on the exact bytes that were hashed.
    _public_start: int = field(repr=False)
    _private_start: int = field(repr=False)

    @property
    def write_set_digest(self) -> bytes:
        """CCF: the SHA-256 of the whole serialised entry, header included."""
        return hashlib.sha256(self.raw).digest()

    @property
    def public_domain(self) -> bytes:
        return self.raw[self._public_start : self._private_start]

    @property
    def private_domain_size(self) -> int:
        return len(self.raw) - self._private_start

    def decrypt_private(self, secret: LedgerSecret) -> dict[str, MapWrites]:
        """The private maps; `PrivateDomainAuthError` if the tag does not verify under `secret`."""
        tag = self.raw[HEADER_SIZE : HEADER_SIZE + GCM_TAG_SIZE]
        iv = self.raw[HEADER_SIZE + GCM_TAG_SIZE : HEADER_SIZE + GCM_TAG_SIZE + GCM_IV_SIZE]
        ciphertext = self.raw[self._private_start :]
        try:
            plaintext = secret.aead.decrypt(iv, ciphertext + tag, self.public_domain)
        except InvalidTag as exc:
            raise PrivateDomainAuthError(f"entry {self.txid}: GCM tag does not verify") from exc
        maps = _Reader(plaintext, 0).read_maps()
        if any(is_public_map(name) for name in maps):
            raise MalformedDomainError(f"entry {self.txid}: public map in the private domain")
        return maps


def gcm_iv(txid: TxId) -> bytes:
    """CCF: IV from seqno and term, unique per (seqno, term) since Raft never reuses an index in a term."""
    if not 0 <= txid.view <= MAX_TERM:
        raise ValueError(f"term {txid.view} does not fit the IV")
    return struct.pack("<QI", txid.seqno, txid.view)


def serialise_maps(maps: Mapping[str, MapWrites]) -> bytes:
    """CCF's write-set serialisation of each map (maps, keys and removals in sorted order: canonical)."""
    parts: list[bytes] = []
    for name in sorted(maps):
        writes = maps[name]
        encoded_name = name.encode()
        parts.append(struct.pack("<Q", len(encoded_name)))
        parts.append(encoded_name)
        parts.append(struct.pack("<qQQ", writes.read_version, 0, len(writes.writes)))
        for key in sorted(writes.writes):
            value = writes.writes[key]
            parts.append(struct.pack("<Q", len(key)))
            parts.append(key)
            parts.append(struct.pack("<Q", len(value)))
            parts.append(value)
        parts.append(struct.pack("<Q", len(writes.removals)))
        for key in sorted(writes.removals):
            parts.append(struct.pack("<Q", len(key)))
            parts.append(key)
    return b"".join(parts)


def encode_entry(
    txid: TxId,
    write_set: WriteSet,
    secret: LedgerSecret,
    commit_evidence_digest: bytes,
    *,
    claims_digest: bytes = NO_CLAIMS,
    flags: int = 0,
) -> bytes:
    """Serialises and encrypts one transaction's write set as a ledger entry at `txid`."""
    if len(commit_evidence_digest) != DIGEST_SIZE or len(claims_digest) != DIGEST_SIZE:
        raise ValueError("digests are 32 bytes")
    public_domain = (
        struct.pack("<Bq", ENTRY_TYPE_WRITE_SET, txid.seqno)
        + claims_digest
        + commit_evidence_digest
        + struct.pack("<q", 0)
        + serialise_maps(write_set.public())
    )
    iv = gcm_iv(txid)
    sealed = secret.aead.encrypt(iv, serialise_maps(write_set.private()), public_domain)
    ciphertext, tag = sealed[:-GCM_TAG_SIZE], sealed[-GCM_TAG_SIZE:]
    body_size = _BODY_PREFIX_SIZE + len(public_domain) + len(ciphertext)
    if body_size > MAX_ENTRY_SIZE:
        raise ValueError(f"entry of {body_size} bytes exceeds the 48-bit size field")
    header = struct.pack("<BB", ENTRY_FORMAT_V1, flags) + body_size.to_bytes(6, "little")
    return b"".join((header, tag, iv, struct.pack("<Q", len(public_domain)), public_domain, ciphertext))


def read_frame(buffer: bytes | memoryview, offset: int = 0) -> EntryFrame:
    """The framing of the entry at `offset` in `buffer`, checking that all its bytes are present."""
    available = len(buffer) - offset
    if available < HEADER_SIZE + GCM_TAG_SIZE + GCM_IV_SIZE:
        raise TruncatedEntryError(f"{available} bytes cannot hold an entry header")
    version, flags = buffer[offset], buffer[offset + 1]
    if version != ENTRY_FORMAT_V1:
        raise UnsupportedEntryError(f"entry format version {version}, expected {ENTRY_FORMAT_V1}")
    body_size = int.from_bytes(buffer[offset + 2 : offset + HEADER_SIZE], "little")
    if body_size < _BODY_PREFIX_SIZE:
        raise MalformedDomainError(f"entry size {body_size} is smaller than its fixed headers")
    if available < HEADER_SIZE + body_size:
        raise TruncatedEntryError(f"entry announces {HEADER_SIZE + body_size} bytes, {available} present")
    iv_start = offset + HEADER_SIZE + GCM_TAG_SIZE
    seqno, raw_term = struct.unpack_from("<QI", buffer, iv_start)
    if raw_term > MAX_TERM:
        raise UnsupportedEntryError("snapshot entries are not ledger entries")
    return EntryFrame(TxId(raw_term, seqno), flags, HEADER_SIZE + body_size)


def decode_entry(raw: bytes) -> LedgerEntry:
    """Parses exactly one entry (no trailing bytes) and its public domain; the private domain stays sealed."""
    frame = read_frame(raw)
    if frame.size != len(raw):
        raise MalformedDomainError(f"{len(raw) - frame.size} bytes after the entry")
    public_size = struct.unpack_from("<Q", raw, HEADER_SIZE + GCM_TAG_SIZE + GCM_IV_SIZE)[0]
    public_start = HEADER_SIZE + _BODY_PREFIX_SIZE
    private_start = public_start + public_size
    if private_start > len(raw):
        raise MalformedDomainError(f"public domain of {public_size} bytes overruns the entry")
    if public_size < _FIXED_PUBLIC_SIZE:
        raise MalformedDomainError("public domain too short for its fixed fields")
    reader = _Reader(raw[:private_start], public_start)
    entry_type = reader.take(1)[0]
    if entry_type != ENTRY_TYPE_WRITE_SET:
        raise UnsupportedEntryError(f"entry type {entry_type}, expected {ENTRY_TYPE_WRITE_SET}")
    seqno = reader.int64()
    if seqno != frame.txid.seqno:
        raise MalformedDomainError(f"public domain seqno {seqno} differs from the IV's {frame.txid.seqno}")
    claims_digest = reader.take(DIGEST_SIZE)
    commit_evidence_digest = reader.take(DIGEST_SIZE)
    reader.int64()  # reserved (CCF's former max conflict version)
    public_maps = reader.read_maps()
    if not all(is_public_map(name) for name in public_maps):
        raise MalformedDomainError(f"entry {frame.txid}: private map in the public domain")
    return LedgerEntry(
        txid=frame.txid,
        flags=frame.flags,
        claims_digest=claims_digest,
        commit_evidence_digest=commit_evidence_digest,
        public_maps=public_maps,
        raw=raw,
        _public_start=public_start,
        _private_start=private_start,
    )


class _Reader:
    """A cursor over a serialised domain; running past the end is a MalformedDomainError."""

    def __init__(self, data: bytes, position: int) -> None:
        self._data = data
        self._position = position

    def take(self, size: int) -> bytes:
        end = self._position + size
        if size < 0 or end > len(self._data):
            raise MalformedDomainError(f"domain ends inside a field at offset {self._position}")
        chunk = self._data[self._position : end]
        self._position = end
        return chunk

    def uint64(self) -> int:
        value: int = struct.unpack("<Q", self.take(8))[0]
        return value

    def int64(self) -> int:
        value: int = struct.unpack("<q", self.take(8))[0]
        return value

    def blob(self) -> bytes:
        return self.take(self.uint64())

    def read_maps(self) -> dict[str, MapWrites]:
        maps: dict[str, MapWrites] = {}
        while self._position < len(self._data):
            try:
                name = self.blob().decode()
            except UnicodeDecodeError as exc:
                raise MalformedDomainError("map name is not UTF-8") from exc
            if name in maps:
                raise MalformedDomainError(f"map {name!r} appears twice")
            read_version = self.int64()
            if self.uint64() != 0:
                raise MalformedDomainError(f"map {name!r}: ledger entries carry no reads")
            writes: dict[bytes, bytes] = {}
            for _ in range(self._count()):
                key = self.blob()
                if key in writes:
                    raise MalformedDomainError(f"map {name!r}: key written twice")
                writes[key] = self.blob()
            removals = [self.blob() for _ in range(self._count())]
            if len(set(removals)) != len(removals) or not writes.keys().isdisjoint(removals):
                raise MalformedDomainError(f"map {name!r}: key removed twice or both written and removed")
            maps[name] = MapWrites(writes=writes, removals=frozenset(removals), read_version=read_version)
        return maps

    def _count(self) -> int:
        # Each counted item takes at least 8 bytes, which bounds the count before any loop runs.
        count = self.uint64()
        if count * 8 > len(self._data) - self._position:
            raise MalformedDomainError(f"count {count} exceeds the bytes left")
        return count
