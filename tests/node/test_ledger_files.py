"""Ledger files on disk: CCF's chunks, commit, catch-up reads, truncation, crash recovery, sealed secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.ledger.signatures import SignaturePolicy
from enclave.ledger.writer import AppendedEntry
from node.ledger_files import FsyncPolicy, LedgerFiles, LedgerFilesError
from tests.enclave.ledger.ledger_scenario import (
    Service,
    build_entries,
    public_value,
    secret_value,
    write_files,
)

TRANSACTIONS = 30
CHUNK_SIZE = 3000


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(31)


@pytest.fixture(scope="module")
def entries(service: Service) -> list[AppendedEntry]:
    _, built = build_entries(
        service, TRANSACTIONS, SignaturePolicy(max_transactions=6, max_interval_ms=10**12)
    )
    return built


def append_all(files: LedgerFiles, entries: list[AppendedEntry]) -> None:
    for entry in entries:
        files.append(entry.txid.seqno, entry.raw, entry.committable)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_complete_chunks_end_on_signatures_and_become_committed_with_the_commit_index(
    tmp_path: Path, entries: list[AppendedEntry]
) -> None:
    files = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE, fsync=FsyncPolicy.NEVER)
    append_all(files, entries[:-3])
    signature_seqnos = {e.txid.seqno for e in entries if e.committable}
    complete = [n for n in files.chunk_names() if "-" in n]
    assert complete and all(int(n.split("-")[1]) in signature_seqnos for n in complete)
    assert files.chunk_names()[-1] == f"ledger_{int(complete[-1].split('-')[1]) + 1}"
    assert not any(n.endswith(".committed") for n in names(tmp_path))

    first_end = int(complete[0].split("-")[1])
    files.commit(first_end)
    assert f"{complete[0]}.committed" in names(tmp_path)
    assert all(not n.endswith(".committed") for n in names(tmp_path) if n != f"{complete[0]}.committed")


def test_reads_return_the_exact_entries_across_chunks_and_after_reopening(
    tmp_path: Path, entries: list[AppendedEntry]
) -> None:
    write_files(tmp_path, entries, CHUNK_SIZE)
    files = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE)
    assert files.last_seqno == len(entries)
    # Only complete chunks record their commit in their name; the open chunk's tail is for Raft to say.
    committed_ends = [int(n.split("-")[1].removesuffix(".committed")) for n in names(tmp_path) if "-" in n]
    assert files.committed_seqno == max(committed_ends)
    assert files.read(1, len(entries)) == [e.raw for e in entries]
    assert files.read(7, 9) == [e.raw for e in entries[6:9]]
    with pytest.raises(LedgerFilesError):
        files.read(1, len(entries) + 1)


def test_truncation_drops_the_uncommitted_suffix_and_reopens_a_complete_chunk(
    tmp_path: Path, entries: list[AppendedEntry]
) -> None:
    files = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE, fsync=FsyncPolicy.EVERY_APPEND)
    append_all(files, entries)
    files.commit(2)
    files.truncate(5)
    assert files.last_seqno == 5
    assert files.chunk_names()[-1].startswith("ledger_") and "-" not in files.chunk_names()[-1]
    files.append(6, entries[5].raw, entries[5].committable)
    files.close()
    reopened = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE)
    assert reopened.read(1, 6) == [e.raw for e in entries[:6]]
    assert reopened.recovered_tail is None


def test_committed_entries_are_never_truncated(tmp_path: Path, entries: list[AppendedEntry]) -> None:
    files = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE, fsync=FsyncPolicy.NEVER)
    append_all(files, entries)
    files.commit(20)
    with pytest.raises(LedgerFilesError, match="committed"):
        files.truncate(19)
    assert files.last_seqno == len(entries)


def test_appends_must_be_in_order(tmp_path: Path, entries: list[AppendedEntry]) -> None:
    files = LedgerFiles(tmp_path, fsync=FsyncPolicy.NEVER)
    with pytest.raises(LedgerFilesError):
        files.append(2, entries[1].raw, committable=False)


def test_a_half_written_last_entry_is_cut_on_open_and_reported(
    tmp_path: Path, entries: list[AppendedEntry], caplog: pytest.LogCaptureFixture
) -> None:
    files = LedgerFiles(tmp_path, chunk_size=10**9, fsync=FsyncPolicy.ON_FLUSH)
    append_all(files, entries[:5])
    files.flush()
    files.close()
    chunk = tmp_path / "ledger_1"
    chunk.write_bytes(chunk.read_bytes() + entries[5].raw[:40])  # the crash hit mid-write

    with caplog.at_level(logging.WARNING):
        reopened = LedgerFiles(tmp_path, chunk_size=10**9)
    assert reopened.recovered_tail is not None
    assert reopened.recovered_tail.last_whole_seqno == 5
    assert reopened.recovered_tail.dropped_bytes == 40
    assert "dropped 40 bytes after seqno 5" in caplog.text
    assert reopened.last_seqno == 5
    reopened.append(6, entries[5].raw, entries[5].committable)
    assert reopened.read(6, 6) == [entries[5].raw]


def test_damage_below_the_commit_is_not_a_torn_tail_and_nothing_is_cut(
    tmp_path: Path, entries: list[AppendedEntry], caplog: pytest.LogCaptureFixture
) -> None:
    files = LedgerFiles(tmp_path, chunk_size=10**9, fsync=FsyncPolicy.ON_FLUSH)
    append_all(files, entries[:8])
    files.close()
    chunk = tmp_path / "ledger_1"
    whole = chunk.read_bytes()
    damaged = whole[: -len(entries[7].raw) - 30]  # the disk lost entries 7 and 8, both committed

    chunk.write_bytes(damaged)
    with caplog.at_level(logging.ERROR):
        reopened = LedgerFiles(tmp_path, chunk_size=10**9, committed_hint=8)
    assert reopened.damaged is not None and "entry 7 is damaged" in reopened.damaged
    assert "entry 7 is damaged" in caplog.text
    assert chunk.read_bytes() == damaged, "committed bytes were cut"
    assert reopened.last_seqno == 6 and reopened.recovered_tail is None
    with pytest.raises(LedgerFilesError, match="damaged"):
        reopened.append(7, entries[6].raw, entries[6].committable)
    with pytest.raises(LedgerFilesError, match="damaged"):
        reopened.truncate(6)


def test_a_completion_interrupted_before_the_rename_is_recovered(
    tmp_path: Path, entries: list[AppendedEntry]
) -> None:
    files = LedgerFiles(tmp_path, chunk_size=10**9, fsync=FsyncPolicy.NEVER)
    append_all(files, entries[:6])
    files.close()
    chunk = tmp_path / "ledger_1"
    data = chunk.read_bytes()
    # The positions table was written, the header and the rename were not.
    chunk.write_bytes(data + (8).to_bytes(4, "little") * 6)
    reopened = LedgerFiles(tmp_path, chunk_size=10**9)
    assert reopened.last_seqno == 6
    assert reopened.read(1, 6) == [e.raw for e in entries[:6]]


def test_a_gap_between_chunks_refuses_to_open(tmp_path: Path, entries: list[AppendedEntry]) -> None:
    write_files(tmp_path, entries, CHUNK_SIZE)
    committed = sorted(n for n in names(tmp_path) if n.endswith(".committed"))
    (tmp_path / committed[1]).unlink()
    with pytest.raises(LedgerFilesError, match="does not follow"):
        LedgerFiles(tmp_path)


def test_private_values_and_the_ledger_secret_never_reach_the_disk_or_the_logs(
    tmp_path: Path, service: Service, entries: list[AppendedEntry], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        write_files(tmp_path, entries, CHUNK_SIZE, commit=False)
        files = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE)
        files.read(1, files.last_seqno)
    on_disk = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()))
    logged = caplog.text.encode()
    key = service.secret.key
    for leak in (key, key.hex().encode(), service.secret.commit_secret):
        assert leak not in on_disk and leak not in logged
    for i in range(TRANSACTIONS):
        assert secret_value(i)[:20] not in on_disk
        assert secret_value(i)[:20] not in logged
        assert public_value(i) in on_disk


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_crash_at_any_byte_leaves_exactly_the_whole_entries_before_it(
    tmp_path_factory: pytest.TempPathFactory, entries: list[AppendedEntry], data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("crash")
    write_files(directory, entries[:8], chunk_size=10**9, commit=False)
    chunk = directory / "ledger_1"
    written = chunk.read_bytes()
    cut = data.draw(st.integers(min_value=8, max_value=len(written)))
    chunk.write_bytes(written[:cut])

    reopened = LedgerFiles(directory, chunk_size=10**9, fsync=FsyncPolicy.NEVER)
    boundaries = [8]
    for entry in entries[:8]:
        boundaries.append(boundaries[-1] + len(entry.raw))
    whole = max(i for i, end in enumerate(boundaries) if end <= cut)
    assert reopened.last_seqno == whole
    if whole:
        assert reopened.read(1, whole) == [e.raw for e in entries[:whole]]
    assert (reopened.recovered_tail is None) == (cut in boundaries)
    assert chunk.stat().st_size == boundaries[whole]


def test_a_ledger_reset_to_a_snapshot_continues_after_it_and_reopens_there(
    tmp_path: Path, entries: list[AppendedEntry]
) -> None:
    files = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE, fsync=FsyncPolicy.EVERY_APPEND)
    append_all(files, entries[:10])
    files.commit(6)
    base = 20
    files.reset(base)
    assert names(tmp_path) == [] and files.last_seqno == base and files.committed_seqno == base
    with pytest.raises(LedgerFilesError):
        files.append(base, entries[base - 1].raw, entries[base - 1].committable)
    append_all(files, entries[base:])
    files.close()

    reopened = LedgerFiles(tmp_path, chunk_size=CHUNK_SIZE)
    assert reopened.base == base and reopened.chunk_names()[0].startswith(f"ledger_{base + 1}")
    assert reopened.read(base + 1, len(entries)) == [e.raw for e in entries[base:]]
    with pytest.raises(LedgerFilesError, match="not on disk"):
        reopened.read(base, base + 1)
    with pytest.raises(LedgerFilesError, match="committed"):
        reopened.truncate(base - 1)
