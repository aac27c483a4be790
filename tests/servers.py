"""Servers the tests start on 127.0.0.1 and stop after: videos over HTTP, and an alert webhook."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHTTPServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose (the fault tests) hang up mid-answer


class _Server:
    def __init__(self, handler):
        self.httpd = _QuietHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class VideoServer(_Server):
    """Serves files by name; `faults` maps a name to what to do instead: "500", "hang", raw bytes,
    "drip" (a byte a second), "endless" (bytes with no length, for ever), "huge" (claims 3 GiB),
    or ("redirect", url)."""

    def __init__(self, files: dict[str, Path]):
        self.files, self.faults, self.requests = files, {}, []
        super().__init__(_VideoHandler)


class _VideoHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET(body=False)

    def do_GET(self, body=True):
        server = self.server.owner
        name = self.path.lstrip("/")
        server.requests.append(name)
        fault = server.faults.get(name)
        if fault == "500":
            self.send_error(500)
            return
        if fault == "hang":
            time.sleep(30)
            return
        if isinstance(fault, tuple) and fault[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", fault[1])
            self.end_headers()
            return
        if fault in ("drip", "endless", "huge"):
            self._stream(fault)
            return
        content = fault if isinstance(fault, bytes) else server.files[name].read_bytes() if name in server.files else None
        if content is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if body:
            self.wfile.write(content)


    def _stream(self, fault: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        if fault == "huge":
            self.send_header("Content-Length", str(3 << 30))
        self.end_headers()
        deadline = time.monotonic() + 120  # bounded: a test that forgets to stop still ends
        try:
            while time.monotonic() < deadline:
                self.wfile.write(b"\0" if fault == "drip" else b"\0" * 65536)
                self.wfile.flush()
                if fault == "drip":
                    time.sleep(1)
        except OSError:
            pass  # the client gave up, as it should


class Webhook(_Server):
    """Receives apprise json:// posts; answers 500 while `down`, and holds each reply `delay` seconds
    (a post counts as received when it arrives, as a real receiver would act on it)."""

    def __init__(self):
        self.received, self.down, self.delay = [], False, 0.0
        super().__init__(_WebhookHandler)

    @property
    def apprise_url(self) -> str:
        return self.url.replace("http://", "json://") + "/alerts"


class _WebhookHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if server.down:
            self.send_error(500)
            return
        server.received.append(json.loads(body))
        time.sleep(server.delay)
        self.send_response(200)
        self.end_headers()
