"""Every kind of source the monitor knows, by the `kind` project.toml names it with.

Kept apart from monitor/sources.py so the base names no subclass: a new kind of source is a class
and a line here."""

from __future__ import annotations

from pathlib import Path

from data.errors import LookoutError
from data.workspace import Workspace
from monitor.sources import AccountSource, CommandSource, FolderSource, Source, UrlSource
from monitor.trending import TrendingSource

KINDS = {cls.kind: cls for cls in (FolderSource, UrlSource, AccountSource, CommandSource, TrendingSource)}


def build_sources(ws: Workspace, *, broken: dict[str, str] | None = None) -> list[Source]:
    """The sources of project.toml. broken: where to put {source: why} for those that cannot be built, which are
    then left out (the monitor: one bad source never stops the others); None: the first one raises (the page)."""
    sources = []
    for i, settings in enumerate(ws.config.sources):
        try:
            cls = KINDS.get(settings["kind"])
            if cls is None:
                raise LookoutError(f"project.toml sources[{i}]: kind {settings['kind']!r} is not one of {', '.join(KINDS)}.")
            sources.append(cls(settings, ws, index=i))
        except LookoutError as exc:
            if broken is None:
                raise
            broken[f"{settings.get('kind', 'source')}:{i}"] = str(exc)
    return sources


def source_in_words(name: str) -> str:
    """A source as the set-up part of the page names it, not as it is kept ("folder:/srv/trend")."""
    kind, _, what = name.partition(":")
    if kind == "folder":
        return f"folder {Path(what).name or what}"
    if kind == "urls":
        return f"{what} video link" + ("" if what == "1" else "s")
    if kind == "accounts":
        accounts = [f"@{a.lstrip('@')}" for a in what.split(",")]
        return ("TikTok account " if len(accounts) == 1 else "TikTok accounts ") + ", ".join(accounts)
    if kind == "command":
        return f"command {Path(what).name}"
    return name
