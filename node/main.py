"""`sealchain node start --config FILE`: one node process, from its config file until SIGTERM or SIGINT.

Order of start-up: read the config, open the machine's simulated TEE, create the enclave in-process, bind
the servers (recording picked ports in the config file, so a restarted node keeps its addresses, which
the ledger records), hand the enclave its first input, then serve. A stop signal closes the servers and
the files cleanly; a kill -9 is recovered from the files at the next start (`Restart`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from enclave.runtime.boundary import EnclaveBoundary
from enclave.runtime.enclave import Enclave
from node.config import NodeConfig, load_config, write_config
from node.host import Host
from node.node_log import configure_node_log, log_event
from node.platform_files import PlatformFilesError, open_machine_platform, read_pinned_roots


class NodeStartError(Exception):
    """The node could not start; the message says why (the log has the details)."""


def create_host(config: NodeConfig) -> Host:
    platform_dir = config.path(config.platform_dir)
    try:
        platform = open_machine_platform(platform_dir, config.machine, config.backend)
        vendor_roots = read_pinned_roots(platform_dir)
    except PlatformFilesError as error:
        raise NodeStartError(
            f"cannot open the {config.backend} platform of {config.machine!r}: {error}"
        ) from None
    return Host(config, EnclaveBoundary(Enclave(platform, os.urandom, vendor_roots)))


async def serve(config_file: Path) -> int:
    """Runs the node of `config_file` until a stop signal; the process exit status."""
    config = load_config(config_file)
    configure_node_log(config.path(config.log_file))
    log_event(logging.INFO, "starting", name=config.name, mode=config.mode.value, pid=os.getpid())
    host = create_host(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, host.stopped.set)
    try:
        await host.start()
        if host.config != config:
            write_config(config_file, host.config)
        await host.stopped.wait()
    finally:
        await host.close()
    return 1 if host.failure is not None else 0


def run_node(config_file: Path) -> int:
    return asyncio.run(serve(config_file))
