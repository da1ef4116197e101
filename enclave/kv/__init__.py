"""The transactional KV store (DESIGN.md section 3: maps and versions, transactions with read/write sets).

- `store.KvStore`: maps of versioned keys; `begin`, `apply`, `commit`, `rollback`, `snapshot`.
- `transaction.Transaction`: snapshot reads, own writes, optimistic validation at commit.
- `execute.execute`: re-runs a transaction function on conflict.
- `write_set.WriteSet`: what a committed version changed, for the ledger.
- `committed_state`: the committed state and committed deltas; the canonical snapshot encoding.
- `state_sealing.StateSealer`: committed deltas as sealed records for the host's LMDB, and back.
"""
