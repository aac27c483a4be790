"""What every Lookout command shares: --workspace, and expected failures without a traceback."""

from __future__ import annotations

import argparse
import errno
import sqlite3
import sys
from collections.abc import Callable, Sequence

from data.errors import LookoutError


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


def parse_and_open(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """The parsed arguments and the workspace they name."""
    from data.workspace import Workspace

    args = parser.parse_args(argv)
    return args, Workspace.open(args.workspace)


def run(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a command's main; a LookoutError is one line on stderr and exit status 2."""
    try:
        return main(argv) or 0
    except LookoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, sqlite3.OperationalError) as exc:
        if not _disk_full(exc):
            raise
        print("error: the disk is full; free some space on it and run the command again.", file=sys.stderr)
        return 2


def _disk_full(exc: Exception) -> bool:
    return getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in str(exc)


def print_progress(stage: str, done: int, total: int) -> None:
    """A one-line progress counter on stderr for long work."""
    if sys.stderr.isatty() or done == total:
        end = "\n" if done == total else "\r"
        print(f"{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)
