"""Alerts and their delivery attempts. An alert is queued in the transaction of the score that
causes it; every attempt is recorded before it is made, so a kill mid-send leaves an attempt
whose outcome is unknown rather than none."""

from __future__ import annotations

import json
import sqlite3

from data.rows import AlertRow, DeliveryRow, RecentAlertRow, all_rows
from data.schema import now, transaction


def record_alert(conn: sqlite3.Connection, video_id: int, target: int, model_version: str, payload: dict) -> bool:
    """Queue an alert inside the caller's transaction; False when this video has one for this target, from any
    model version: one alert per video and target (a retrained version alerted Trump.mp4 a second time)."""
    cur = conn.execute(
        """INSERT INTO alerts (video_id, target, model_version, status, created_at, payload_json)
           SELECT ?, ?, ?, 'pending', ?, ?
           WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE video_id = ? AND target = ?)""",
        (video_id, target, model_version, now(), json.dumps(payload), video_id, target),
    )
    return cur.rowcount == 1


def pending_alerts(conn: sqlite3.Connection) -> list[AlertRow]:
    return all_rows(conn.execute("SELECT * FROM alerts WHERE status = 'pending' ORDER BY id"))


def recent_alerts(conn: sqlite3.Connection, limit: int = 50) -> list[RecentAlertRow]:
    """The latest alerts, newest first, as the Monitor page lists them."""
    return all_rows(conn.execute(
        """SELECT a.id, a.video_id, COALESCE(v.url, v.path) AS video, a.target, a.model_version, a.status, a.attempts,
                  a.last_error, a.sent_at
           FROM alerts a JOIN videos v ON v.id = a.video_id ORDER BY a.id DESC LIMIT ?""", (limit,)))


def deliveries(conn: sqlite3.Connection, alert_ids: list[int]) -> dict[int, list[DeliveryRow]]:
    """Per alert, per address tried: whether it has the alert, attempts of unknown outcome, and the
    last attempt's error."""
    marks = ",".join("?" * len(alert_ids))
    rows = all_rows(conn.execute(
        f"""SELECT alert_id, endpoint, MAX(outcome = 'delivered') AS delivered,
                   SUM(outcome IS NULL OR outcome = 'unknown') AS unknown,
                   (SELECT error FROM alert_attempts b WHERE b.alert_id = a.alert_id AND b.endpoint = a.endpoint
                    ORDER BY b.id DESC LIMIT 1) AS last_error
            FROM alert_attempts a WHERE alert_id IN ({marks}) GROUP BY alert_id, endpoint ORDER BY MIN(id)""",
        alert_ids))
    by_alert: dict[int, list[DeliveryRow]] = {}
    for row in rows:
        by_alert.setdefault(row["alert_id"], []).append(row)
    return by_alert


def endpoint_state(conn: sqlite3.Connection, alert_id: int, endpoint: str) -> tuple[bool, int]:
    """(delivered already, attempts whose outcome is unknown: timed out or never finished)."""
    row = conn.execute(
        """SELECT SUM(outcome = 'delivered') AS delivered, SUM(outcome IS NULL OR outcome = 'unknown') AS unknown
           FROM alert_attempts WHERE alert_id = ? AND endpoint = ?""",
        (alert_id, endpoint),
    ).fetchone()
    return bool(row["delivered"]), row["unknown"] or 0


def start_attempt(conn: sqlite3.Connection, alert_id: int, endpoint: str) -> int:
    """Record an attempt before it is made; its id."""
    with transaction(conn):
        attempt = conn.execute(
            "INSERT INTO alert_attempts (alert_id, endpoint, started_at) VALUES (?, ?, ?)", (alert_id, endpoint, now())
        ).lastrowid
        conn.execute("UPDATE alerts SET attempts = attempts + 1 WHERE id = ?", (alert_id,))
    return attempt


def finish_attempt(conn: sqlite3.Connection, alert_id: int, attempt: int, endpoint: str, outcome: str,
                   error: str | None) -> None:
    with transaction(conn):
        conn.execute("UPDATE alert_attempts SET outcome = ?, error = ? WHERE id = ?", (outcome, error, attempt))
        if error:
            conn.execute("UPDATE alerts SET last_error = ? WHERE id = ?", (f"{endpoint}: {error}", alert_id))


def close_alert(conn: sqlite3.Connection, alert_id: int, status: str) -> None:
    """status: "sent" (every endpoint has it) or "unknown" (some endpoint never said)."""
    with transaction(conn):
        conn.execute("UPDATE alerts SET status = ?, sent_at = ? WHERE id = ?", (status, now(), alert_id))
