"""Serving an ASGI app (the query API, the push endpoint) so that it stops when asked.

uvicorn waits for open connections without limit once asked to stop; here it waits
GRACEFUL_SECONDS, and the hub's deadline (deploy/stopping.py) holds either way. The port is bound
before uvicorn starts, so a port taken is one line, not uvicorn's log and exit.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from deploy import stopping
from deploy.errors import ConfigurationError

GRACEFUL_SECONDS = 5


class _Server(uvicorn.Server):
    """uvicorn, whose stop on SIGTERM or SIGINT keeps the hub's deadline."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        stopping.request_stop(sig)
        super().handle_exit(sig, frame)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; ConfigurationError naming it when it is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port} ({error.strerror})") from None
    sock.listen(2048)
    return sock


def serve(app: Any, sock: socket.socket) -> None:
    """Serve `app` on the bound socket until SIGTERM or SIGINT."""
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SECONDS)
    _Server(config).run(sockets=[sock])
