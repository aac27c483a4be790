"""The monitor's sources and alert destinations as the Monitor page sets them up.

project.toml stays the one place they live: each change is checked as loading the file
checks it, plus the [access] rules for what a page user types (data/untrusted_input.py), and is
written atomically under the workspace's write lock, so two people adding at once both
keep theirs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import apprise

from data.config import parse_config
from data.errors import LookoutError
from data.untrusted_input import LOCAL_ADDRESSES, check_public_url, host_allowed, resolve, server_folder
from data.workspace import Workspace
from monitor.alerts import Alert, Notifier
from monitor.source_kinds import build_sources

SOURCE_KINDS = {
    "accounts": "TikTok accounts (their newest videos)",
    "urls": "Video links",
    "folder": "A folder on this computer",
    "command": "A download command",
}
_HANDLE = re.compile(r"@?[A-Za-z0-9_.]{2,24}")


@dataclass(frozen=True)
class Answer:
    """What one alert destination said to a test alert."""

    destination: str
    received: bool
    words: str


def _items(text: str) -> list[str]:
    return [item.strip() for item in re.split(r"[\n,]", text) if item.strip()]


def _handle(text: str) -> str:
    """'@user', 'user' or a profile link -> '@user'."""
    if text.startswith(("http://", "https://")):
        path = urlsplit(text).path.strip("/").split("/")
        text = path[0] if path and path[0].startswith("@") else ""
    if not _HANDLE.fullmatch(text):
        raise LookoutError(f"{text[:60]!r} is not a TikTok account; give it as @name, one per line.")
    return "@" + text.lstrip("@")


def source_settings(ws: Workspace, kind: str, text: str, *, newest: int = 5, serving_others: bool) -> dict:
    """The [[sources]] table for what a page user typed, checked as a page user's input."""
    items = _items(text)
    if kind not in SOURCE_KINDS:
        raise LookoutError(f"Choose a kind of source: {', '.join(SOURCE_KINDS)}.")
    if not items:
        raise LookoutError("Type at least one " + {"accounts": "account", "urls": "video link", "folder": "folder",
                                                    "command": "command"}[kind] + ".")
    if kind == "accounts":
        settings = {"kind": kind, "accounts": list(dict.fromkeys(_handle(i) for i in items)), "newest": newest}
    elif kind == "urls":
        # Checked now and again at every download: a name that pointed outside may point inside later.
        urls = [check_public_url(u, allowed_hosts=ws.config.allowed_hosts) for u in items]
        settings = {"kind": kind, "urls": list(dict.fromkeys(urls)), "public_only": True}
    elif kind == "folder":
        folder = server_folder(text.strip(), roots=ws.config.import_roots, serving_others=serving_others)
        settings = {"kind": kind, "path": str(folder)}
    else:
        if serving_others:
            raise LookoutError("A command source runs a program on the server, so it cannot be added from a page "
                               "served to others; the operator can add it to project.toml.")
        if not shlex.split(text):
            raise LookoutError("Type the command that downloads videos.")
        settings = {"kind": kind, "command": text.strip(), "folder": "trend"}
        _check_runnable(shlex.split(text)[0], ws.root / settings["folder"])
    _check_sources(ws, [*ws.config.sources, settings])
    return settings


def _check_runnable(program: str, folder: Path) -> None:
    """A command the page accepts can start: "/etc", a file without the right to run, or a NUL byte once
    stopped the whole watch (a program that is no program is said by the cycle, as that source's failure)."""
    if "\0" in program:
        raise LookoutError("The command holds a NUL character, so it can never run.")
    path = Path(program) if "/" in program else None
    if path is not None and not path.is_absolute():
        path = folder / path  # the command runs in its source's folder
    if not (shutil.which(program) if path is None else path.is_file() and os.access(path, os.X_OK)):
        raise LookoutError(f"{program!r} is not a program this computer can run (not found, a folder, or not allowed "
                           "to run): give the path of the program that downloads the videos.")


def _check_sources(ws: Workspace, sources: list[dict]) -> None:
    """Built exactly as the monitor builds them, so the page never writes what a cycle would refuse."""
    config = parse_config({**ws.config.to_toml(), "sources": sources}, where="the source form")
    build_sources(_Preview(ws, config))


class _Preview:
    """A workspace seen with a config not yet written."""

    def __init__(self, ws: Workspace, config):
        self._ws, self.config = ws, config

    def __getattr__(self, name):
        return getattr(self._ws, name)


def describe_source(settings: dict) -> str:
    kind = settings["kind"]
    if kind == "accounts":
        return f"TikTok accounts {', '.join(settings['accounts'])}: newest {settings.get('newest', 5)} each"
    if kind == "urls":
        return f"{len(settings['urls'])} video link{'s' * (len(settings['urls']) != 1)}: " + ", ".join(settings["urls"])
    if kind == "folder":
        return f"Video files in the folder {settings['path']}"
    if kind == "command":
        return f"Videos the command `{settings['command']}` downloads"
    return f"{kind} source"


def add_source(ws: Workspace, settings: dict) -> None:
    _change(ws, "sources", lambda sources: sources if settings in sources else [*sources, settings])


def remove_source(ws: Workspace, settings: dict) -> None:
    """By what it is, not by position: a colleague may have removed one above it meanwhile."""
    _change(ws, "sources", lambda sources: [s for s in sources if s != settings])


def check_alert_url(url: str, *, serving_others: bool) -> str:
    """An apprise URL a page user typed: one apprise understands, and, on an app served to others,
    not one that posts to a computer inside the newsroom's network."""
    url = url.strip()
    plugin = apprise.Apprise.instantiate(url) if url else None
    if plugin is None:
        raise LookoutError("That is not an alert address Lookout understands; give one like "
                           "slack://TokenA/TokenB/TokenC, mailtos://user:password@example.com or "
                           "json://example.com/hook (see apprise's list of services).")
    host = getattr(plugin, "host", None)
    if serving_others and host:
        addresses = resolve(host)  # a service's token parsed as a host resolves to nothing, and is no address
        if host.lower() in LOCAL_ADDRESSES or addresses and not host_allowed(host, addresses, ()):
            raise LookoutError(f"{host} is not a public host, so alerts will not be posted to it from a page "
                               "served to others; the operator can add it to [alerts] urls in project.toml.")
    return url


def shown_alert_url(url: str) -> str:
    """The address with its passwords and tokens hidden: typed secrets are never shown back."""
    plugin = apprise.Apprise.instantiate(url)
    return plugin.url(privacy=True).split("?")[0] if plugin else "(not understood)"


def add_alert_url(ws: Workspace, url: str) -> None:
    _change(ws, "alert_urls", lambda urls: urls if url in urls else [*urls, url])


def alert_url_key(url: str) -> str:
    """A name for one address that holds none of its secrets: the page removes by it. By the shown form, two
    addresses that differ only in a password (the new one added, the old one to remove) both went."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def remove_alert_url(ws: Workspace, key: str) -> None:
    """The address whose alert_url_key is `key` (none if a colleague removed it meanwhile)."""
    _change(ws, "alert_urls", lambda urls: [u for u in urls if alert_url_key(u) != key])


def _change(ws: Workspace, setting: str, edit) -> None:
    """One list of project.toml edited as it is on disk now (a colleague may have changed it), under the lock."""
    with ws.write_lock():
        current = list(getattr(ws.reload_config(), setting))
        if (changed := edit(current)) != current:
            _save(ws, **{setting: changed})


def _save(ws: Workspace, *, sources: list[dict] | None = None, alert_urls: list[str] | None = None) -> None:
    raw = ws.config.to_toml()
    if sources is not None:
        raw["sources"] = sources
    if alert_urls is not None:
        raw["alerts"] = {"urls": alert_urls}
    ws.save_config(parse_config(raw, where=f"{ws.config_path.name} (monitor setup)"))


def send_test_alert(ws: Workspace) -> list[Answer]:
    """A test message to every destination, each with what it answered."""
    notifier = Notifier.for_workspace(ws)
    alert = Alert(title="Lookout: test alert",
                  body=f"A test from the Monitor page of {ws.config.name}: alerts reach you here.")
    answers = []
    for index, url in enumerate(notifier.urls):
        outcome, error = notifier.send_to(index, alert)
        words = {"delivered": "received it"}.get(outcome, error or outcome)
        answers.append(Answer(shown_alert_url(url), outcome == "delivered", words))
    return answers

