# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TCP listener on 127.0.0.1 that serves each connection in a thread of its own.

The base of the test fronts that sit between a client and a service on
loopback (``lib.openstack_services.CuttingProxy``, ``lib.tls.TlsFront``): it
binds a free port (``port``), accepts until ``close()``, and hands each
accepted socket to ``serve(client)``, which the subclass defines.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class LoopbackListener:
    def __init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(32)
        self.port = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _address = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()
