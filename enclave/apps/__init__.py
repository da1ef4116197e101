"""Application procedures (DESIGN.md section 3, docs/apps.md): named functions a user calls that run in
one KV transaction, with msgpack arguments and results.

- `api`: `Procedure`, `Caller`, `ProcedureError` (what the runtime and the apps share).
- `arguments`: strict reading of a procedure's arguments.
- `registry`: every procedure by name; `run` decodes, runs and encodes one call.
- `kv`: reads and writes of users' own maps. `smallbank`: the SmallBank benchmark.
"""
