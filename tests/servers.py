"""Servers the tests start on 127.0.0.1 and stop after: videos over HTTP, and an alert webhook."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


RAY = str(Path(sys.executable).parent / "ray")


class RayCluster:
    """A real Ray cluster on 127.0.0.1: a head and further nodes, one CPU each, each `ray start --block`
    in its own process group, so that stopping it stops every process it started (and nothing else)."""

    def __init__(self, env: dict[str, str], *, nodes: int = 2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # Ray's sockets live under its temp dir, in paths of at most 107 bytes: pytest's are too deep
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self.env, self.nodes, self.logs, self.size = env, [], [], nodes

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, *args: str) -> None:
        common = ("--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", str(200 << 20),
                  "--disable-usage-stats", "--block")
        log = open(self.temp_dir / f"node{len(self.nodes)}.log", "wb")
        self.logs.append(log)
        self.nodes.append(subprocess.Popen([RAY, "start", *args, *common], env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def __enter__(self):
        self._start("--head", "--port", str(self.port), "--include-dashboard", "false", "--temp-dir", str(self.temp_dir))
        self._wait_for(1)
        for more in range(2, self.size + 1):
            self._start("--address", self.address)
            self._wait_for(more)
        return self

    def _wait_for(self, cpus: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(node.poll() is not None for node in self.nodes):
                raise RuntimeError(f"a Ray node stopped; see the logs in {self.temp_dir}")
            status = subprocess.run([RAY, "status", "--address", self.address], env=self.env,
                                    capture_output=True, text=True)
            if f"/{cpus}.0 CPU" in status.stdout:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {cpus} CPUs: {status.stdout}{status.stderr}")

    def actor_pids(self, name: str) -> list[int]:
        """Processes of the cluster's actors of class `name` (Ray titles them ray::<name>...)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(f"ray::{name}".encode()):
                    found.append(int(proc.name))
            except OSError:
                pass
        return found

    def __exit__(self, *exc):
        for node in reversed(self.nodes):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(node.pid, sig)
                    node.wait(timeout=5)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
        for log in self.logs:
            log.close()
        if exc[0] is None:  # kept after a failure: the nodes' logs are there
            shutil.rmtree(self.temp_dir, ignore_errors=True)
