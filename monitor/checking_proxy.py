"""A forward proxy inside the fetch worker that connects only where `host_allowed` says.

yt-dlp has several HTTP clients; the one that impersonates a browser (curl_cffi, which
TikTok needs) resolves names in C, where a guard on Python's own name lookup never sees
them, so a redirect to an internal address was followed. With every client sent through
this proxy, each connection, after any redirect, is checked in one place: the name is
resolved once, checked, and the checked address is the one connected to.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from data.untrusted_input import host_allowed

MAX_HEAD = 64 << 10


class Refused(Exception):
    pass


class CheckingProxy:
    """HTTP CONNECT (https) and absolute-URI requests (http) on 127.0.0.1, for one worker's life."""

    def __init__(self, allowed_hosts: tuple[str, ...], resolve=socket.getaddrinfo):
        self.allowed_hosts, self.resolve = allowed_hosts, resolve
        self.refused: list[str] = []  # the hosts it would not connect to, for the worker's message
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    def _serve(self) -> None:
        while True:
            client, _ = self.listener.accept()
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _connect(self, host: str, port: int) -> socket.socket:
        infos = self.resolve(host, port, type=socket.SOCK_STREAM)
        if not host_allowed(host, [info[4][0] for info in infos], self.allowed_hosts):
            self.refused.append(host)
            raise Refused(f"{host} is not a public web host")
        error = OSError(f"cannot connect to {host}")
        for family, kind, proto, _, address in infos:  # the checked addresses, never a second lookup
            upstream = socket.socket(family, kind, proto)
            upstream.settimeout(30)
            try:
                upstream.connect(address)
                return upstream
            except OSError as exc:  # "localhost" is ::1 first, where a server may not listen
                upstream.close()
                error = exc
        raise error

    def _handle(self, client: socket.socket) -> None:
        try:
            head = _read_head(client)
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = self._connect(host.strip("[]"), int(port))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                rest = head[head.index(b"\r\n\r\n") + 4:]
            else:
                url = urlsplit(target)
                upstream = self._connect(url.hostname or "", url.port or 80)
                rest = _origin_request(head, method, url)
            if rest:
                upstream.sendall(rest)
        except Refused as exc:
            client.sendall(f"HTTP/1.1 403 {exc}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            client.close()
            return
        except (OSError, ValueError):
            client.close()
            return
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _read_head(client: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(65536)
        if not chunk or len(head) > MAX_HEAD:
            raise ValueError("no request")
        head += chunk
    return head


def _origin_request(head: bytes, method: str, url) -> bytes:
    """The request as the origin expects it (its path, not the whole URL), closed after one answer:
    a client that reuses the connection for another host must come back through the check."""
    lines, body = head.split(b"\r\n\r\n", 1)
    headers = [line for line in lines.split(b"\r\n")[1:]
               if not line.lower().startswith((b"proxy-", b"connection:", b"keep-alive:"))]
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    first = f"{method} {path} HTTP/1.1".encode("latin-1")
    return b"\r\n".join([first, *headers, b"Connection: close"]) + b"\r\n\r\n" + body


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
