"""The local ports of a process's TCP sockets, as the nemesis finds a node's connections."""

from __future__ import annotations

import os
import socket

from tests.nemesis.sockets import local_tcp_ports


def test_the_ports_of_this_processs_listening_and_connected_sockets_are_found() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        accepted, _ = server.accept()
        with accepted:
            ports = local_tcp_ports(os.getpid())
            assert {server.getsockname()[1], client.getsockname()[1]} <= ports


def test_a_process_that_does_not_exist_holds_no_port() -> None:
    assert local_tcp_ports(2**22 + 1) == set()  # above Linux's largest pid
