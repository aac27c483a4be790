"""Alerts through apprise: one per (video, target, model version), none lost, none sent twice
where the endpoint can tell.

- An alert is queued in the same transaction as the score that causes it
  (`record_alert`), so a crash can never keep the score and lose the alert.
- Each endpoint is tried separately; every attempt is recorded before it is made.
- An endpoint that refused or could not be reached did not get the alert: it is
  tried again next cycle, for as long as it takes. The alert counts as sent once one
  endpoint has it; the Monitor page says, per address, who has it and who does not.
- An attempt that timed out waiting for the reply, or whose process died while it
  waited, may have arrived: it is "unknown", tried again at most
  MAX_UNKNOWN_ATTEMPTS times in all, with the same idempotency key each time
  (a field of JSON, form and XML webhooks; a line of every other message), so a
  receiver that checks the key shows it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

from data import alert_records
from data.errors import LookoutError
from data.workspace import Workspace

ALERT_URLS_ENV = "LOOKOUT_ALERT_URLS"
MAX_UNKNOWN_ATTEMPTS = 3
WEBHOOK_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")  # they carry the key as a field


@dataclass(frozen=True)
class Alert:
    title: str
    body: str
    attachment: str | None = None


def _outcome(delivered: bool, log_text: str) -> str:
    if delivered:
        return "delivered"
    # requests' ReadTimeout: the request went out and no reply came, so it may have arrived.
    return "unknown" if "Read timed out" in log_text else "failed"


def _warnings(log_text: str) -> str:
    """What apprise said went wrong (its warnings name the service and status, not the tokens)."""
    return " ".join(line.split(" - WARNING - ", 1)[1].strip() for line in log_text.splitlines()
                    if " - WARNING - " in line)[:300]


class Notifier:
    """Sends to every configured URL (project.toml's alerts.urls and $LOOKOUT_ALERT_URLS)."""

    def __init__(self, urls: list[str]):
        self.urls = [u for u in urls if u.strip()]
        for url in self.urls:
            if apprise.Apprise.instantiate(url) is None:
                raise LookoutError(f"Alert URL {url!r} is not one apprise understands; fix alerts.urls in project.toml.")

    @classmethod
    def for_workspace(cls, ws: Workspace) -> Notifier:
        extra = os.environ.get(ALERT_URLS_ENV, "").replace(",", " ").split()
        return cls([*ws.config.alert_urls, *extra])

    def endpoints(self) -> list[str]:
        """A name per URL that is safe to store and show: apprise's privacy form (no tokens), and a
        digest of the whole URL, so that two URLs alike but for their tokens stay apart."""
        return [f"{apprise.Apprise.instantiate(url).url(privacy=True)} #{hashlib.sha256(url.encode()).hexdigest()[:8]}"
                for url in self.urls]

    def send_to(self, index: int, alert: Alert, *, key: str | None = None) -> tuple[str, str | None]:
        """(outcome, error) of one attempt at endpoint `index`: "delivered", "failed" or "unknown"."""
        plugin = apprise.Apprise.instantiate(self.urls[index])
        body = alert.body
        if key:
            body += f"\nAlert id: {key}"
            if plugin.protocol in WEBHOOK_SCHEMES or plugin.secure_protocol in WEBHOOK_SCHEMES:
                plugin.payload_extras = {**plugin.payload_extras, "idempotency_key": key}
        attach = apprise.AppriseAttachment(alert.attachment) if alert.attachment else None
        try:
            with apprise.LogCapture(level=logging.DEBUG) as log:
                delivered = plugin.notify(title=alert.title, body=body, attach=attach)
        except Exception as exc:  # a plugin's failure must not stop the monitor
            return "failed", f"{type(exc).__name__}: {exc}"
        outcome = _outcome(delivered, log.getvalue())
        errors = {"failed": "the endpoint refused it or could not be reached",
                  "unknown": "no reply in time; it may have arrived"}
        said = _warnings(log.getvalue())
        return outcome, errors.get(outcome) and errors[outcome] + (f" ({said})" if said else "")

    def send(self, alert: Alert) -> str | None:
        """Send to every endpoint now, without a record (operator messages): None when all took it."""
        if not self.urls:
            return "no alert URLs configured (alerts.urls in project.toml)"
        errors = [self.send_to(i, alert)[1] for i in range(len(self.urls))]
        return "; ".join(e for e in errors if e) or None


def record_alert(conn: sqlite3.Connection, video_id: int, target: int, model_version: str, alert: Alert) -> bool:
    """Queue an alert inside the caller's transaction; False when this (video, target, model) has one."""
    return alert_records.record_alert(conn, video_id, target, model_version, alert.__dict__)


def _attempt(ws: Workspace, notifier: Notifier, row, index: int, endpoint: str, alert: Alert) -> str:
    attempt = alert_records.start_attempt(ws.db, row["id"], endpoint)  # before it is made: a kill mid-send leaves it unknown
    outcome, error = notifier.send_to(index, alert, key=row["idempotency_key"])
    alert_records.finish_attempt(ws.db, row["id"], attempt, endpoint, outcome, error)
    return outcome


def send_pending(ws: Workspace, notifier: Notifier, *, dry_run: bool = False, log=print) -> tuple[int, int]:
    """Try every pending alert at every endpoint that does not have it yet. Returns (alerts that reached
    an address for the first time, alerts still waiting for some address). Dry run prints them instead."""
    sent = waiting = 0
    endpoints = notifier.endpoints()
    for row in alert_records.pending_alerts(ws.db):
        alert = Alert(**json.loads(row["payload_json"]))
        if dry_run:
            attached = f"\n(attached: {alert.attachment})" if alert.attachment else ""
            log(f"[dry run] alert: {alert.title}\n{alert.body}{attached}")
            continue
        states = [alert_records.endpoint_state(ws.db, row["id"], endpoint) for endpoint in endpoints]
        reached_before = any(delivered for delivered, _ in states)
        done = []  # per endpoint: "delivered", "unknown" (gave up) or None (try again next cycle)
        for index, (endpoint, (delivered, unknown)) in enumerate(zip(endpoints, states)):
            if not delivered and unknown < MAX_UNKNOWN_ATTEMPTS:
                outcome = _attempt(ws, notifier, row, index, endpoint, alert)
                delivered, unknown = outcome == "delivered", unknown + (outcome == "unknown")
                if not delivered:
                    log(f"alert {row['id']} to {address_in_words(endpoint)}: {outcome}, will retry next cycle")
            done.append("delivered" if delivered else "unknown" if unknown >= MAX_UNKNOWN_ATTEMPTS else None)
        sent += "delivered" in done and not reached_before
        if None in done or not endpoints:
            waiting += 1
            continue
        alert_records.close_alert(ws.db, row["id"], "sent" if set(done) == {"delivered"} else "unknown")
    return sent, waiting


def address_in_words(endpoint: str) -> str:
    """An endpoint as the pages name it: its kind and host, nothing of its path, options or secrets."""
    url = urlsplit(endpoint.split(" #", 1)[0])
    kind = url.scheme.removesuffix("s") if url.scheme in {f"{w}s" for w in WEBHOOK_SCHEMES} else url.scheme
    host = f"{url.hostname}:{url.port}" if url.port else url.hostname
    return f"{kind} to {host}" if host else kind


def detection_alert(video: dict, verdict, best_frame) -> Alert:
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
