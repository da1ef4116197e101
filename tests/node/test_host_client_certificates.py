"""The client API's mTLS trust list follows the enclave (`ClientCertificates`: the service's users and
members), not the config file: a node restarted with a config that lists a stranger and not the user
accepts the user and refuses the stranger at the TLS handshake."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from enclave.runtime import messages as m
from node.config import IdentitySettings
from node.main import create_host
from node.network import is_open
from sealchain.client import Client, ClientError, TxStatus
from sealchain.identities import generate_identity
from tests.node.governing import open_service, until_status
from tests.node.test_host_node import genesis_config, user_client


def test_the_client_api_accepts_the_services_users_whatever_the_config_lists(tmp_path: Path) -> None:
    config = genesis_config(tmp_path)
    stranger = generate_identity("stranger", with_encryption_key=False)
    (tmp_path / "stranger_cert.pem").write_bytes(stranger.cert_pem)

    async def genesis() -> m.WriteResult:
        host = create_host(config)
        await host.start()
        try:
            await open_service(host)
            with user_client(tmp_path, host) as client:
                return await asyncio.to_thread(client.put, "records", b"k", b"v")
        finally:
            await host.close()

    written = asyncio.run(genesis())
    only_the_stranger = IdentitySettings(users=(Path("../../stranger_cert.pem"),))

    async def restarted() -> tuple[TxStatus, str]:
        host = create_host(replace(config, identities=only_the_stranger))
        await host.start()
        try:
            await until_status(host, "the restarted node to serve", is_open)
            with user_client(tmp_path, host) as user:
                status = (await asyncio.to_thread(user.status, written.txid)).status
            outsider_client = Client(
                [str(host.config.client.advertised)],
                service_cert_pem=(tmp_path / "service_cert.pem").read_bytes(),
                cert_pem=stranger.cert_pem,
                key_pem=stranger.private_key_pem,
                timeout=1.0,  # a refused handshake looks like an unreachable node: retried until then
            )
            with outsider_client as outsider, pytest.raises(ClientError) as refused:
                await asyncio.to_thread(outsider.get, "records", b"k")
            return status, refused.value.code
        finally:
            await host.close()

    status, stranger_refusal = asyncio.run(restarted())
    assert status is TxStatus.COMMITTED
    assert stranger_refusal == "UNAVAILABLE"  # the TLS handshake fails: not NotAUser from the enclave
