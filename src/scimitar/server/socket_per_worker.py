"""Several worker processes, each listening on a socket of its own.

uvicorn's supervisor hands one listening socket to all its workers, and whichever
worker wakes first accepts every connection waiting. A client that opens its
connections in a burst (wrk, a load balancer's pool, a provisioning service's
workers) can land all of them on one worker while the other idles, for as long as
the connections live: on the benchmark machine, 32 wrk connections split 32/0,
29/3 and 26/6 between two workers as often as evenly, and PATCH on PostgreSQL
served 1,298 req/s on a 32/0 split against 2,041 on 15/17.

So each worker gets its own socket, bound to the same address with
``SO_REUSEPORT``, and the kernel spreads new connections across the workers'
sockets by a hash of the client's address and port (as nginx's ``reuseport``).
Where the platform has no such balancing (it is Linux's), ``serve`` keeps
uvicorn's shared socket.
"""

from __future__ import annotations

import errno
import logging
import socket
import sys

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors import Multiprocess

log = logging.getLogger("uvicorn.error")

# Linux spreads connections across SO_REUSEPORT sockets; BSD and macOS let the last
# bound socket take them all.
AVAILABLE = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other workers' sockets may share."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _refuse_if_served(host: str, port: int) -> None:
    """Fail as a taken port does, when something already accepts connections there.

    Another program's socket blocks the bind anyway, unless it too set SO_REUSEPORT,
    as a second ``scimitar serve`` on the same port (run by the same user) would:
    the kernel would then quietly split the clients between the two servers.
    """
    # Where the server listens on every address, ask on loopback.
    probe = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    try:
        socket.create_connection((probe, port), timeout=1).close()
    except OSError:
        return  # nothing answers: the port is free, or taken in a way bind() will tell
    raise OSError(errno.EADDRINUSE, "a server already accepts connections on this port")


class SocketPerWorker(Multiprocess):
    """uvicorn's supervisor (restarts, signals, health checks), a socket per worker.

    The supervisor binds each socket and the worker listens on it. The supervisor's
    own copy is closed within half a second of the worker's start, so that a worker's
    death closes its socket, and the kernel sends new connections to the live
    workers instead of queueing them where nobody accepts.
    """

    def __init__(self, config: Config) -> None:
        self._host = config.host
        # The first socket is bound here, so a taken port fails before any worker starts.
        _refuse_if_served(config.host, config.port)
        self._first: socket.socket | None = listening_socket(config.host, config.port)
        self._port: int = self._first.getsockname()[1]  # the port chosen, when 0 was asked
        self._handed_out: list[socket.socket] = []
        super().__init__(config, sockets=[])
        log.info(
            "Listening on http://%s:%d, %d workers, a socket each",
            self._host,
            self._port,
            config.workers,
        )

    @property
    def sockets(self) -> list[socket.socket]:
        """A new socket each time: uvicorn reads this as it starts each worker."""
        sock, self._first = self._first, None
        if sock is None:
            sock = listening_socket(self._host, self._port)
        self._handed_out.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _unused: list[socket.socket]) -> None:
        pass  # uvicorn's __init__ stores the shared list it was given; there is none

    def keep_subprocess_alive(self) -> None:
        # Called every half second, after any worker started: each started worker has
        # its own descriptor of its socket by now (spawn passes it at exec).
        for sock in self._handed_out:
            sock.close()
        self._handed_out.clear()
        super().keep_subprocess_alive()


def run(config: Config) -> None:
    """Serve ``config.workers`` workers until SIGTERM or SIGINT, a socket each."""
    try:
        supervisor = SocketPerWorker(config)
    except OSError as error:  # as uvicorn answers a port it cannot bind
        log.error("cannot listen on %s:%d: %s", config.host, config.port, error)
        sys.exit(STARTUP_FAILURE)
    supervisor.run()
