"""The `kv` app: a user's reads and writes of named maps, as procedures.

Map rules (as for the built-in KV calls, enclave/runtime/client_calls.py): a map is private unless named
`public:...`; `ccf.*` and `public:ccf.*` maps are the service's, and the maps another app keeps its state
in are that app's (so `kv.put` cannot break SmallBank's invariants): both are refused as `ReservedMap`.
"""

from __future__ import annotations

from collections.abc import Mapping

from enclave.apps import arguments
from enclave.apps.api import Caller, ErrorCode, Procedure, ProcedureError
from enclave.kv.transaction import Transaction
from enclave.runtime.service_maps import MAX_SCAN_LIMIT, is_reserved_map

DEFAULT_SCAN_LIMIT = 1000


def procedures(app_maps: frozenset[str]) -> tuple[Procedure, ...]:
    """The `kv.*` procedures, refusing the service's maps and `app_maps` (the other apps' maps)."""

    def map_name(args: Mapping[str, object]) -> str:
        name = arguments.text(args, "map")
        if not name:
            raise ProcedureError(ErrorCode.INVALID_ARGUMENTS, "argument 'map' must not be empty")
        if is_reserved_map(name):
            raise ProcedureError(ErrorCode.RESERVED_MAP, f"map {name!r} is reserved for the service")
        if name in app_maps:
            raise ProcedureError(ErrorCode.RESERVED_MAP, f"map {name!r} belongs to an application")
        return name

    def put(tx: Transaction, args: Mapping[str, object], caller: Caller) -> object:
        arguments.check_names(args, ("map", "key", "value"))
        tx.put(map_name(args), arguments.binary(args, "key"), arguments.binary(args, "value"))
        return {}

    def get(tx: Transaction, args: Mapping[str, object], caller: Caller) -> object:
        arguments.check_names(args, ("map", "key"))
        return {"value": tx.get(map_name(args), arguments.binary(args, "key"))}

    def delete(tx: Transaction, args: Mapping[str, object], caller: Caller) -> object:
        arguments.check_names(args, ("map", "key"))
        tx.remove(map_name(args), arguments.binary(args, "key"))
        return {}

    def scan(tx: Transaction, args: Mapping[str, object], caller: Caller) -> object:
        arguments.check_names(args, ("map",), optional=("start", "limit"))
        name = map_name(args)
        start = arguments.binary(args, "start", default=b"")
        limit = arguments.integer(args, "limit", default=DEFAULT_SCAN_LIMIT)
        if not 1 <= limit <= MAX_SCAN_LIMIT:
            raise ProcedureError(
                ErrorCode.INVALID_ARGUMENTS, f"argument 'limit' must be in 1..{MAX_SCAN_LIMIT}, not {limit}"
            )
        return {"items": [[key, value] for key, value in tx.scan(name, start=start, limit=limit)]}

    return (
        Procedure("kv.put", put, read_only=False, doc="Set KEY to VALUE in MAP."),
        Procedure("kv.get", get, read_only=True, doc="The value of KEY in MAP (None when absent)."),
        Procedure("kv.delete", delete, read_only=False, doc="Remove KEY from MAP (absent is fine)."),
        Procedure(
            "kv.scan",
            scan,
            read_only=True,
            doc=f"Up to LIMIT (default {DEFAULT_SCAN_LIMIT}) [key, value] pairs of MAP from START on.",
        ),
    )
