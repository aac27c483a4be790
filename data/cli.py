"""What every Lookout command shares: --workspace, and expected failures without a traceback."""

from __future__ import annotations

import argparse
import atexit
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from data.errors import LookoutError, full_disk_as_error


def command_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return parser, commands


def add_workspace_flags(commands: argparse._SubParsersAction) -> None:
    """Every command takes --workspace."""
    for sub in commands.choices.values():
        sub.add_argument(
            "--workspace", metavar="DIR", help="workspace folder (default: $LOOKOUT_WORKSPACE or ./workspace)"
        )


def add_cluster_flag(*commands: argparse.ArgumentParser) -> None:
    """Commands that compute features take --ray ADDRESS (see data.config.ray_address)."""
    for sub in commands:
        sub.add_argument("--ray", metavar="ADDRESS",
                         help="compute on this Ray cluster (default: $LOOKOUT_RAY_ADDRESS, then project.toml)")


def parse_and_open(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """The parsed arguments and the workspace they name."""
    from data.config import RAY_ADDRESS_ENV
    from data.workspace import Workspace

    args = parser.parse_args(argv)
    if getattr(args, "ray", None):
        os.environ[RAY_ADDRESS_ENV] = args.ray  # first in line, for this command and what it starts
    return args, Workspace.open(args.workspace)


# TensorFlow's C++ start-up lines (oneDNN and CUDA notices, CPU features). They are written to
# file descriptor 2 while TensorFlow loads, before any setting of TF_CPP_MIN_LOG_LEVEL applies.
STARTUP_NOISE = re.compile(
    rb"^(?:[IW]0000 [\d:.]+ +\d+ \w+\.cc:\d+\]|WARNING: All log messages before absl::InitializeLog"
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow)"
)


COMMANDS = ("data", "trainer", "monitor", "labeler")
_filtering = threading.Event()


def started_as_command() -> bool:
    """Whether this process is `python -m <one of COMMANDS>` (while Python locates the package,
    sys.argv[0] is "-m")."""
    first = Path(sys.argv[0]) if sys.argv and sys.argv[0] != "-m" else None
    return first is None or (first.name == "__main__.py" and first.parent.name in COMMANDS)


def drop_startup_noise() -> None:
    """Pass everything written to stderr (by Python, libraries or child processes) through, except
    TensorFlow's start-up lines. Pieces ending in \\r (a progress counter) pass at once. Once per process."""
    if _filtering.is_set():
        return
    _filtering.set()
    try:
        terminal = os.dup(2)
    except OSError:  # started with no stderr at all: nothing to filter
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            *pieces, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
            os.write(terminal, b"".join(p for p in pieces if not STARTUP_NOISE.match(p)))
        if pending and not STARTUP_NOISE.match(pending):
            os.write(terminal, pending)

    thread = threading.Thread(target=forward, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # the pipe's last writer closes: the thread reads to the end and stops
        thread.join(timeout=5)

    atexit.register(restore)


def run(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a command's main; a LookoutError is one line on stderr and exit status 2."""
    drop_startup_noise()
    try:
        with full_disk_as_error():
            return main(argv) or 0
    except LookoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


LOG_EVERY_S = 5.0
_last_logged = {"stage": "", "at": 0.0}


def print_progress(stage: str, done: int, total: int) -> None:
    """A progress counter on stderr for long work: one line redrawn on a terminal; in a log file,
    a line when a stage starts or ends and every LOG_EVERY_S seconds in between."""
    if sys.stderr.isatty():
        end = "\n" if done == total else "\r"
        print(f"{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)
        return
    now = time.monotonic()
    if stage != _last_logged["stage"] or done == total or now - _last_logged["at"] >= LOG_EVERY_S:
        _last_logged.update(stage=stage, at=now)
        print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)
