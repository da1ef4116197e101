"""The auditor reports, never crashes: any corruption of a ledger is a verdict with a seqno."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.ledger.audit import AuditReport, audit_ledger
from enclave.ledger.chunks import ChunkName, iter_frames, table_offset
from enclave.ledger.signatures import SignaturePolicy
from tests.enclave.ledger.ledger_scenario import Service, build_entries, write_files


@pytest.fixture(scope="module")
def service() -> Service:
    return Service.create(61)


@pytest.fixture(scope="module")
def chunks(service: Service, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    _, entries = build_entries(service, 12, SignaturePolicy(max_transactions=4, max_interval_ms=10**12))
    directory = tmp_path_factory.mktemp("ledger")
    write_files(directory, entries, chunk_size=2000, commit=False)
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def audit(chunks: dict[str, bytes], service: Service) -> AuditReport:
    return audit_ledger(list(chunks), chunks.__getitem__, service.service.cert)


def test_an_intact_ledger_verifies_and_uses_the_given_service_certificate(
    chunks: dict[str, bytes], service: Service
) -> None:
    report = audit(chunks, service)
    assert report.ok and report.unsigned_tail == 0 and report.last_verified is not None
    assert report.service_cert_pem == service.service.cert_pem
    assert audit_ledger(list(chunks), chunks.__getitem__).ok  # the ledger's own service certificate


def test_progress_is_reported_for_every_entry(chunks: dict[str, bytes], service: Service) -> None:
    seen: list[int] = []
    report = audit_ledger(list(chunks), chunks.__getitem__, service.service.cert, seen.append)
    assert seen == list(range(1, report.entries + 1))


def test_a_damaged_header_of_the_open_chunk_is_reported(chunks: dict[str, bytes], service: Service) -> None:
    open_chunk = next(n for n in chunks if "-" not in n)
    report = audit({**chunks, open_chunk: b"\xff" + chunks[open_chunk][1:]}, service)
    assert report.failure is not None and "positions table" in report.failure.reason


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_corruption_gives_a_verdict_never_an_exception(
    chunks: dict[str, bytes], service: Service, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(chunks)))
    original = chunks[name]
    at = data.draw(st.integers(min_value=0, max_value=len(original) - 1))
    noise = data.draw(st.binary(min_size=1, max_size=8))
    cut = data.draw(st.booleans())
    damaged = original[:at] if cut else original[:at] + noise + original[at + len(noise) :]
    report = audit({**chunks, name: damaged}, service)
    chunk = ChunkName.parse(name)
    assert chunk is not None
    is_open = chunk.end is None
    # Undetectable by design: a shorter but whole ledger, or the last signature entry's own leaf (only a
    # later signature would cover it).
    entries_end = table_offset(original) or len(original)
    last_entry_at = max(offset for offset, _ in iter_frames(original, entries_end))
    if damaged != original and not (is_open and (cut or at >= last_entry_at)):
        assert report.failure is not None or report.unsigned_tail > 0
    if report.failure is not None:
        assert report.failure.seqno >= 1
