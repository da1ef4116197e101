"""Users' calls on the KV store (the `kv` procedures until enclave/apps lands): who may call, on which
maps, and what each call reads or writes. Pure functions of a KV transaction.

Rules: the caller's certificate must be a user's (`public:ccf.gov.users.certs`, keyed by user id = hex
SHA-256 of the certificate DER); maps are private unless named `public:...`; `ccf.*` and `public:ccf.*`
maps are the service's and refused, and so are the maps an application keeps its state in (SmallBank's
balances change only through its procedures, which conserve money).
"""

from __future__ import annotations

import functools

from cryptography import x509

from enclave.apps.registry import APP_MAPS
from enclave.crypto.ids import UserId, user_id_of
from enclave.governance.tables import USERS_CERTS
from enclave.kv.transaction import Transaction
from enclave.runtime import messages as m
from enclave.runtime.service_maps import MAX_SCAN_LIMIT, is_reserved_map


class CallRefused(Exception):
    """A call refused before it touched anything; becomes a `CallError` answer."""

    def __init__(self, code: m.ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    def as_error(self) -> m.CallError:
        return m.CallError(self.code, str(self))


def authorise_user(tx: Transaction, caller_cert_der: bytes) -> UserId:
    user_id = _user_id_of_der(caller_cert_der)
    if tx.get(USERS_CERTS, user_id.encode()) is None:
        raise CallRefused(m.ErrorCode.NOT_A_USER, f"{user_id} is not a user of this service")
    return user_id


# Every call of a client presents the same certificate: parsing it once per client, not per call, was
# 2-4% of a node's enclave time under load (docs/performance.md). Only the id is kept, never the decision:
# whether the id is a user is read from the transaction on every call.
@functools.lru_cache(maxsize=1024)
def _user_id_of_der(caller_cert_der: bytes) -> UserId:
    try:
        cert = x509.load_der_x509_certificate(caller_cert_der)
    except ValueError:
        raise CallRefused(m.ErrorCode.NOT_A_USER, "the caller's certificate does not parse") from None
    return user_id_of(cert)


def check_call(call: m.ClientCall) -> None:
    """What can be refused without any state: map names and limits."""
    match call:
        case m.Put() | m.Delete() | m.Get() | m.Scan():
            if not call.map_name:
                raise CallRefused(m.ErrorCode.INVALID_ARGUMENT, "a map name is needed")
            if is_reserved_map(call.map_name):
                raise CallRefused(
                    m.ErrorCode.RESERVED_MAP, f"map {call.map_name!r} is reserved for the service"
                )
            if call.map_name in APP_MAPS:
                reason = f"map {call.map_name!r} belongs to an application: use its procedures"
                raise CallRefused(m.ErrorCode.RESERVED_MAP, reason)
            if isinstance(call, m.Scan) and not 1 <= call.limit <= MAX_SCAN_LIMIT:
                raise CallRefused(m.ErrorCode.INVALID_ARGUMENT, f"scan limit must be 1..{MAX_SCAN_LIMIT}")
            if isinstance(call, m.Put) and call.expected_version is not None and call.expected_version < 0:
                raise CallRefused(m.ErrorCode.INVALID_ARGUMENT, "an expected version is 0 or more")
        case m.GetTxStatus() | m.GetReceipt():
            if call.txid.view < 0 or call.txid.seqno < 0:
                raise CallRefused(m.ErrorCode.INVALID_ARGUMENT, "a transaction id is non-negative")


def apply_write(tx: Transaction, call: m.Put | m.Delete) -> None:
    if isinstance(call, m.Delete):
        tx.remove(call.map_name, call.key)
        return
    if call.expected_version is not None:
        version = tx.get_version(call.map_name, call.key) or 0
        if version != call.expected_version:
            raise CallRefused(
                m.ErrorCode.VERSION_MISMATCH,
                f"{call.map_name}[{call.key!r}] is at version {version}, not {call.expected_version}",
            )
    tx.put(call.map_name, call.key, call.value)


def read(tx: Transaction, call: m.Get | m.Scan, txid: m.TxRef) -> m.GetResult | m.ScanResult:
    if isinstance(call, m.Get):
        return m.GetResult(
            tx.get(call.map_name, call.key), txid, tx.get_version(call.map_name, call.key) or 0
        )
    items = tx.scan(call.map_name, start=call.start, limit=call.limit)
    return m.ScanResult(
        tuple(m.KeyValue(key, value) for key, value in items if call.end is None or key < call.end), txid
    )
