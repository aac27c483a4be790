"""Alerts through apprise: one per (video, target, model version), kept until delivered.

An alert is first recorded as pending, then sent; it is marked sent only once
the endpoint accepted it, so an endpoint that is down delays an alert to the
next cycle but never drops it, and a delivered one is never sent again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import apprise

from data.errors import LookoutError
from data.schema import now, transaction
from data.workspace import Workspace

ALERT_URLS_ENV = "LOOKOUT_ALERT_URLS"


@dataclass(frozen=True)
class Alert:
    title: str
    body: str
    attachment: str | None = None


class Notifier:
    """Sends to every configured URL (project.toml's alerts.urls and $LOOKOUT_ALERT_URLS)."""

    def __init__(self, urls: list[str]):
        self.urls = [u for u in urls if u.strip()]
        self.apprise = apprise.Apprise()
        for url in self.urls:
            if not self.apprise.add(url):
                raise LookoutError(f"Alert URL {url!r} is not one apprise understands; fix alerts.urls in project.toml.")

    @classmethod
    def for_workspace(cls, ws: Workspace) -> "Notifier":
        extra = os.environ.get(ALERT_URLS_ENV, "").replace(",", " ").split()
        return cls([*ws.config.alert_urls, *extra])

    def send(self, alert: Alert) -> str | None:
        """None when delivered, else what went wrong (never raises into the monitor loop)."""
        if not self.urls:
            return "no alert URLs configured (alerts.urls in project.toml)"
        try:
            ok = self.apprise.notify(title=alert.title, body=alert.body, attach=alert.attachment)
        except Exception as exc:  # a plugin's failure must not stop the monitor
            return f"{type(exc).__name__}: {exc}"
        return None if ok else "the alert endpoint did not accept it"


def queue_alert(ws: Workspace, video_id: int, target: int, model_version: str, alert: Alert) -> bool:
    """Record an alert to send; False when this (video, target, model) already has one."""
    with transaction(ws.db):
        cur = ws.db.execute(
            """INSERT OR IGNORE INTO alerts (video_id, target, model_version, status, created_at, payload_json)
               VALUES (?, ?, ?, 'pending', ?, ?)""",
            (video_id, target, model_version, now(), json.dumps(alert.__dict__)),
        )
    return cur.rowcount == 1


def send_pending(ws: Workspace, notifier: Notifier, *, dry_run: bool = False, log=print) -> tuple[int, int]:
    """Try every pending alert once; returns (sent, still pending). Dry run prints them instead."""
    sent = failed = 0
    for row in ws.db.execute("SELECT id, payload_json FROM alerts WHERE status = 'pending' ORDER BY id").fetchall():
        alert = Alert(**json.loads(row["payload_json"]))
        if dry_run:
            log(f"[dry run] alert: {alert.title}\n{alert.body}" + (f"\n(attached: {alert.attachment})" if alert.attachment else ""))
            continue
        error = notifier.send(alert)
        with transaction(ws.db):
            if error is None:
                ws.db.execute("UPDATE alerts SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?", (now(), row["id"]))
                sent += 1
            else:
                ws.db.execute("UPDATE alerts SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, row["id"]))
                failed += 1
                log(f"alert {row['id']} not delivered, will retry next cycle: {error}")
    return sent, failed


def detection_alert(video: dict, verdict, best_frame: Path | None) -> Alert:
    """The message a journalist gets: what, where, who posted it, and how sure."""
    lines = [
        f"{verdict.name} appears in {verdict.positive_frames} of {verdict.sampled_frames} sampled frames "
        f"({verdict.ratio:.0%}).",
        f"Video: {video.get('url') or video['path']}",
    ]
    for label, key in (("Author", "author"), ("Caption", "caption"), ("Uploaded", "uploaded_at")):
        if video.get(key):
            lines.append(f"{label}: {video[key]}")
    return Alert(
        title=f"Lookout: {verdict.name} detected",
        body="\n".join(lines),
        attachment=str(best_frame) if best_frame else None,
    )
