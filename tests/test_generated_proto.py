"""The generated protobuf modules must match proto/*.proto (regenerate with scripts/gen-proto)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_modules_import() -> None:
    from proto.sealchain.v1 import client_pb2, client_pb2_grpc, common_pb2

    request = client_pb2.PutRequest(map="records", key=b"k", value=b"v")
    assert client_pb2.PutRequest.FromString(request.SerializeToString()) == request
    assert common_pb2.TX_STATUS_COMMITTED == 2
    assert hasattr(client_pb2_grpc, "ClientStub")
