"""Every gRPC endpoint a node exposes to the outside, fuzzed (DESIGN.md section 8: bad input; section 2:
everything outside the service is untrusted).

Requests come three ways: well-formed messages with hypothesis-drawn fields, valid messages with bytes
flipped, inserted or deleted, and plain random bytes, sent unparsed through `channel.unary_unary`. Whatever
arrives, the node stays up, answers either normally or with a refusal that names the problem, and a
refused request changes nothing (its last seqno, once quiet, is the one it had before). Governance tables
are the same after the module as before it: no fuzzed request got a proposal in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import grpc
import msgpack
import pytest
from google.protobuf.message import DecodeError, Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.apps.registry import PROCEDURES
from enclave.crypto.cose import GovMessageType
from enclave.runtime import messages as m
from proto.sealchain.v1 import client_pb2, common_pb2, governance_pb2, node_pb2
from sealchain.governance import MemberSigner
from tests.integration.cluster import Cluster
from tests.security.grpc_calls import REFUSALS, Endpoint, RawCaller, quiet_last_seqno, writes_after

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

PUT = Endpoint("/sealchain.v1.Client/Put", "client")
DELETE = Endpoint("/sealchain.v1.Client/Delete", "client")
GET = Endpoint("/sealchain.v1.Client/Get", "client")
SCAN = Endpoint("/sealchain.v1.Client/Scan", "client")
CALL = Endpoint("/sealchain.v1.Client/Call", "client")
TX_STATUS = Endpoint("/sealchain.v1.Client/GetTxStatus", "client")
RECEIPT = Endpoint("/sealchain.v1.Client/GetReceipt", "client")
SUBMIT = Endpoint("/sealchain.v1.Governance/Submit", "client")
READ = Endpoint("/sealchain.v1.Governance/Read", "client")
JOIN = Endpoint("/sealchain.v1.Peer/Join", "join")
# WaitForCommit is left out: for a transaction that never commits it rightly waits for the timeout_ms
# the request asks for, which fuzzing would make arbitrary.
REQUEST_TYPES: dict[Endpoint, type[Message]] = {
    PUT: client_pb2.PutRequest,
    DELETE: client_pb2.DeleteRequest,
    GET: client_pb2.GetRequest,
    SCAN: client_pb2.ScanRequest,
    CALL: client_pb2.CallRequest,
    TX_STATUS: client_pb2.TxStatusRequest,
    RECEIPT: client_pb2.ReceiptRequest,
    SUBMIT: governance_pb2.SignedRequest,
    READ: governance_pb2.GovernanceQuery,
    JOIN: node_pb2.JoinRequest,
}

maps = st.sampled_from(["records", "", "public:records", "public:ccf.gov.members.info"]) | st.text(
    max_size=24
)
data = st.binary(max_size=48)
u64 = st.integers(0, 2**64 - 1)
consistencies = st.integers(0, 3)  # proto3 enums are open: 2 and 3 are values no client sends
txids = st.builds(common_pb2.TxId, view=u64, seqno=u64)
msgpack_args = st.dictionaries(
    st.text(max_size=12), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12) | st.binary(max_size=12)
).map(lambda args: msgpack.packb(args, use_bin_type=True))
procedures = st.sampled_from(sorted(PROCEDURES)) | st.text(max_size=24)

# Writes wait for their commit (no_wait stays False), so a request that was accepted leaves no signature
# still to come when the next example starts.
fuzzed_requests: st.SearchStrategy[tuple[Endpoint, Message]] = st.one_of(
    st.tuples(st.just(PUT), st.builds(client_pb2.PutRequest, map=maps, key=data, value=data)),
    st.tuples(
        st.just(PUT),
        st.builds(client_pb2.PutRequest, map=maps, key=data, value=data, expected_version=u64),
    ),
    st.tuples(st.just(DELETE), st.builds(client_pb2.DeleteRequest, map=maps, key=data)),
    st.tuples(st.just(GET), st.builds(client_pb2.GetRequest, map=maps, key=data, consistency=consistencies)),
    st.tuples(
        st.just(SCAN),
        st.builds(
            client_pb2.ScanRequest,
            map=maps,
            start=data,
            end=data,
            limit=st.integers(0, 2**32 - 1),
            consistency=consistencies,
        ),
    ),
    st.tuples(
        st.just(CALL), st.builds(client_pb2.CallRequest, procedure=procedures, args=msgpack_args | data)
    ),
    st.tuples(st.just(TX_STATUS), st.builds(client_pb2.TxStatusRequest, txid=txids)),
    st.tuples(st.just(RECEIPT), st.builds(client_pb2.ReceiptRequest, txid=txids)),
    st.tuples(st.just(SUBMIT), st.builds(governance_pb2.SignedRequest, cose_sign1=st.binary(max_size=300))),
    st.tuples(
        st.just(READ),
        st.builds(
            governance_pb2.GovernanceQuery,
            table=st.sampled_from([t.value for t in m.GovTable]) | st.text(max_size=16),
            key=st.text(max_size=70),
        ),
    ),
    st.tuples(st.just(JOIN), st.builds(node_pb2.JoinRequest, body=st.binary(max_size=300))),
)


@pytest.fixture(scope="module")
def caller(service: Cluster) -> Iterator[RawCaller]:
    raw = RawCaller(service)
    yield raw
    raw.close()


@pytest.fixture(scope="module", autouse=True)
def governance_is_untouched(service: Cluster) -> Iterator[None]:
    """No fuzzed request changed a governance table (a proposal, a member, a user...)."""
    before = governance_tables(service)
    yield
    assert governance_tables(service) == before


def governance_tables(cluster: Cluster) -> dict[m.GovTable, object]:
    with cluster.governance() as governance:
        return {table: governance.read(table)[0] for table in m.GovTable}


def valid_requests(cluster: Cluster) -> list[tuple[Endpoint, bytes]]:
    """One well-formed request per endpoint, to mutate. The governance request is a proposal signed by a
    member an hour ago: whatever survives a mutation is refused as stale, never proposed."""
    stale_proposal = MemberSigner.from_workspace(cluster.workspace, "member0").sign(
        GovMessageType.PROPOSAL,
        json.dumps({"actions": [{"name": "trigger_ledger_rekey"}]}).encode(),
        created_at=int(time.time()) - 3600,
    )
    messages: list[tuple[Endpoint, Message]] = [
        (PUT, client_pb2.PutRequest(map="records", key=b"fuzz", value=b"value")),
        (GET, client_pb2.GetRequest(map="records", key=b"fuzz")),
        (SCAN, client_pb2.ScanRequest(map="records", start=b"a", end=b"z", limit=10)),
        (CALL, client_pb2.CallRequest(procedure="kv.get", args=msgpack.packb({"key": "fuzz"}))),
        (TX_STATUS, client_pb2.TxStatusRequest(txid=common_pb2.TxId(view=2, seqno=3))),
        (RECEIPT, client_pb2.ReceiptRequest(txid=common_pb2.TxId(view=2, seqno=3))),
        (SUBMIT, governance_pb2.SignedRequest(cose_sign1=stale_proposal)),
        (READ, governance_pb2.GovernanceQuery(table="proposals")),
    ]
    return [(endpoint, message.SerializeToString()) for endpoint, message in messages]


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with a few bytes flipped, inserted or deleted (at least one change)."""
    mutant = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(mutant)))
        match draw(st.sampled_from(["flip", "insert", "delete"])):
            case "flip" if position < len(mutant):
                mutant[position] ^= draw(st.integers(1, 255))
            case "delete" if position < len(mutant):
                del mutant[position]
            case _:
                mutant.insert(position, draw(st.integers(0, 255)))
    return bytes(mutant)


def decodes(endpoint: Endpoint, request: bytes) -> bool:
    try:
        REQUEST_TYPES[endpoint].FromString(request)
    except DecodeError:
        return False
    return True


def answer_changes_nothing_when_refused(
    cluster: Cluster, caller: RawCaller, endpoint: Endpoint, request: bytes
) -> grpc.StatusCode:
    before = quiet_last_seqno(cluster)
    code = caller.call(endpoint, request)
    assert cluster.local.nodes["node0"].is_running(), f"{endpoint.method} with {request!r} stopped the node"
    if code is not grpc.StatusCode.OK:
        assert writes_after(cluster, before) == [], f"refused {endpoint.method} {request!r} wrote"
    return code


@FUZZ
@given(fuzzed_requests)
def test_well_formed_requests_with_any_fields_are_answered_or_refused_by_name(
    service: Cluster, caller: RawCaller, request: tuple[Endpoint, Message]
) -> None:
    endpoint, message = request
    code = answer_changes_nothing_when_refused(service, caller, endpoint, message.SerializeToString())
    assert code is grpc.StatusCode.OK or code in REFUSALS, (endpoint.method, message, code)


@FUZZ
@given(st.data())
def test_mutated_and_random_bytes_change_nothing_and_what_decodes_is_refused_by_name(
    service: Cluster, caller: RawCaller, data: st.DataObject
) -> None:
    endpoint, original = data.draw(
        st.sampled_from(valid_requests(service))
        | st.tuples(st.sampled_from(list(REQUEST_TYPES)), st.just(b""))
    )
    request = data.draw(mutated(original) | st.binary(max_size=200))
    code = answer_changes_nothing_when_refused(service, caller, endpoint, request)
    if decodes(endpoint, request):
        assert code is grpc.StatusCode.OK or code in REFUSALS, (endpoint.method, request, code)
    else:
        assert code is grpc.StatusCode.INVALID_ARGUMENT, (endpoint.method, request, code)


def test_bytes_that_are_no_message_are_refused_as_invalid_arguments(caller: RawCaller) -> None:
    undecodable = b"\x0a\x05abc"  # field 1, length 5, then only 3 bytes
    codes = {endpoint.method: caller.call(endpoint, undecodable) for endpoint in REQUEST_TYPES}
    assert codes == dict.fromkeys(codes, grpc.StatusCode.INVALID_ARGUMENT)
