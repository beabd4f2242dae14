# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private CA and a TLS front on loopback that asks for a client certificate.

``make_pki(folder)`` writes, with the ``openssl`` command: ``ca.pem`` (a CA),
``server.pem``/``server.key`` (for 127.0.0.1) and ``client.pem``/``client.key``,
both signed by that CA. ``TlsFront(target_port, pki)`` listens on
127.0.0.1 (``url``), completes a TLS handshake that requires a client
certificate of the CA, and passes the bytes on to ``target_port`` in plain
HTTP, so a plain service (Keystone) is reached over TLS with a client
certificate, as behind an operator's TLS-terminating proxy.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from pathlib import Path

from lib.listener import LoopbackListener


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=str(cwd), check=True, capture_output=True, timeout=120)


def make_pki(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=dbaas-test-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                            ("client", "extendedKeyUsage=clientAuth")):
        (folder / f"{name}.ext").write_text(extension + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=dbaas-test-{name}", "-keyout",
                 f"{name}.key", "-out", f"{name}.csr", cwd=folder)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=folder)
    return {name: folder / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


class TlsFront(LoopbackListener):
    """TLS (client certificate required) on 127.0.0.1 in front of a plain TCP port."""

    def __init__(self, target_port: int, pki: dict[str, Path]):
        self.target_port = target_port
        self.handshakes = 0
        self.refused = 0
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(pki["server.pem"]), str(pki["server.key"]))
        self._context.load_verify_locations(str(pki["ca.pem"]))
        self._context.verify_mode = ssl.CERT_REQUIRED
        super().__init__()

    def url(self, path: str = "") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def serve(self, client: socket.socket) -> None:
        try:
            client.settimeout(30)
            secure = self._context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            self.refused += 1
            with contextlib.suppress(OSError):
                client.close()
            return
        self.handshakes += 1
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            secure.close()
            return
        secure.settimeout(None)
        upstream.settimeout(None)
        threading.Thread(target=_pump, args=(upstream, secure), daemon=True).start()
        _pump(secure, upstream)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """One direction; its end (the sender is done) is passed on, an error ends both."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        for sock in (dst, src):
            with contextlib.suppress(OSError):
                sock.close()
        return
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
