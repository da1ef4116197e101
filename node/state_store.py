"""The host's copy of the committed KV state, in LMDB (DESIGN.md section 4.5: restart from own state).

The host never interprets what it stores: the enclave seals committed deltas into opaque records
(`enclave.kv.state_sealing`), this module writes them, and at start-up hands everything back for the
enclave to unseal and check.

Layout: one LMDB environment (a directory) with the named databases of `state_sealing.TABLES` plus
`meta`, holding the version record under `COMMIT_VERSION_KEY`.

Single writer: all writes happen on this store's own writer thread, in submission order. `submit`
queues a batch and returns a Future that completes once the batch is in LMDB (and on disk, when
`sync` is on). The writer puts every queued batch into one LMDB write transaction together with the
newest version record, so the records and the version they belong to change atomically (a crash leaves
either the old pair or the new pair, never a mix). After a failed write the store refuses further
batches: the enclave's deltas build on each other, so one lost batch makes every later one wrong.

`sync`: True (the default) makes LMDB fsync at every write transaction; False leaves flushing to the
OS (safe against a process crash, not against a power cut) and fsyncs once at `close`.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import lmdb

from enclave.kv.state_sealing import TABLES, SealedBatch, StoredRecord, StoredState

DEFAULT_MAP_SIZE = 1 << 30  # 1 GiB of address space; LMDB fails writes beyond it (MapFullError)
META_DB = b"meta"
COMMIT_VERSION_KEY = b"commit_version"
# How many queued batches the writer folds into one LMDB transaction (group commit).
MAX_BATCHES_PER_WRITE = 64


class StateStoreError(Exception):
    """The state store cannot do what was asked: it is closed, or an earlier write failed."""


@dataclass(frozen=True, slots=True)
class _Job:
    batch: SealedBatch | None  # None: drop every record (the node starts over from a snapshot)
    done: Future[None]


class StateStore:
    """LMDB files of sealed state records in `directory`, written by one writer thread."""

    def __init__(self, directory: Path, *, map_size: int = DEFAULT_MAP_SIZE, sync: bool = True) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._sync = sync
        self._env = lmdb.open(
            str(directory),
            map_size=map_size,
            max_dbs=len(TABLES) + 1,
            subdir=True,
            sync=sync,
            metasync=sync,
        )
        self._meta = self._env.open_db(META_DB)
        self._tables = {table: self._env.open_db(table.encode()) for table in TABLES}
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name=f"state-store {directory}", daemon=True)
        self._writer.start()

    def load(self) -> StoredState:
        """Everything stored, read in one consistent LMDB read transaction (for start-up)."""
        self._check_usable()
        with self._env.begin() as txn:
            version_record = txn.get(COMMIT_VERSION_KEY, db=self._meta)
            records = tuple(
                StoredRecord(table, bytes(key), bytes(value))
                for table, db in self._tables.items()
                for key, value in txn.cursor(db=db)
            )
        return StoredState(None if version_record is None else bytes(version_record), records)

    def submit(self, batch: SealedBatch) -> Future[None]:
        """Queue a sealed batch for the writer thread; the Future completes when it is stored."""
        self._check_usable()
        done: Future[None] = Future()
        self._jobs.put(_Job(batch, done))
        return done

    def clear(self) -> Future[None]:
        """Queue the removal of every record (batches queued after it apply to the empty store)."""
        self._check_usable()
        done: Future[None] = Future()
        self._jobs.put(_Job(None, done))
        return done

    def close(self) -> None:
        """Write what is queued, stop the writer, flush to disk, close LMDB. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._writer.join()
        if not self._sync and self._failure is None:
            self._env.sync(True)
        self._env.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_usable(self) -> None:
        if self._closed:
            raise StateStoreError("the state store is closed")
        if self._failure is not None:
            raise StateStoreError(f"an earlier state write failed: {self._failure!r}") from self._failure

    def _write_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            stop = False
            while len(jobs) < MAX_BATCHES_PER_WRITE:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
            self._write(jobs)
            if stop:
                return

    def _write(self, jobs: list[_Job]) -> None:
        if self._failure is not None:
            for job in jobs:
                job.done.set_exception(StateStoreError(f"an earlier state write failed: {self._failure!r}"))
            return
        try:
            with self._env.begin(write=True) as txn:
                for job in jobs:
                    batch = job.batch
                    if batch is None:
                        for db in self._tables.values():
                            txn.drop(db, delete=False)
                        txn.delete(COMMIT_VERSION_KEY, db=self._meta)
                        continue
                    for record in batch.records:
                        txn.put(record.key, record.value, db=self._tables[record.table])
                    for deletion in batch.deletions:
                        txn.delete(deletion.key, db=self._tables[deletion.table])
                    txn.put(COMMIT_VERSION_KEY, batch.version_record, db=self._meta)
        except Exception as error:  # the Futures carry it to whoever waits on the batch
            self._failure = error
            for job in jobs:
                job.done.set_exception(error)
            return
        for job in jobs:
            job.done.set_result(None)
