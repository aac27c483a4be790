"""What data/'s query functions return: plain dicts whose keys and types are declared here.

Callers never hold a database's own row type (sqlite3.Row), so a second backend is one module
of queries returning the same dicts (PostgreSQL's psycopg gives them with `row_factory=dict_row`).
"""

from __future__ import annotations

import sqlite3
from typing import TypedDict


class FrameRow(TypedDict):
    id: int
    sha256: str
    file_name: str  # under the workspace's frames/
    width: int
    height: int
    size_bytes: int
    origin: str  # import | capture | monitor
    video_id: int | None
    timestamp_s: float | None
    represents: int  # sampled frames this one stands for (near-duplicates kept once)
    phash: str | None  # 64-bit perceptual hash, hex
    label: int | None
    added_at: str
    label_action: int | None  # the label action that gave it its label now (undo hands it back)


class LabeledFrameRow(TypedDict):
    id: int
    file_name: str
    sha256: str
    label: int
    video_id: int | None
    who: str  # who gave the label it has now
    at: str


class QueuedRow(TypedDict):
    position: int
    frame_id: int
    strategy: str
    score: float
    reason: str
    probability: float | None
    duplicates_json: str
    model_version: str | None
    skipped: int
    label_action_then: int | None  # the frame's label action when it was queued
    file_name: str
    video_id: int | None
    timestamp_s: float | None
    label: int | None
    answered: int  # 1 when someone labeled the frame since it was queued


class StoredScoreRow(TypedDict):
    scored_at: str
    sampled_frames: int
    verdicts: list[dict]  # monitor/verdict.py's Verdict, as stored


class OpinionRow(TypedDict):
    id: int  # the frame's
    file_name: str
    label: int
    labeled_by: str
    second: str  # who gave the second opinion
    opinion: int


class ConflictRow(TypedDict):
    id: int  # the review flag's
    detail: str
    frame_id: int
    file_name: str


class VideoRow(TypedDict):
    id: int
    sha256: str
    path: str
    url: str | None
    source: str | None
    author: str | None
    caption: str | None
    uploaded_at: str | None
    duration_s: float | None
    info_json: str | None
    added_at: str


class ScoredVideoRow(TypedDict):
    id: int  # the video's
    url: str | None
    author: str | None
    path: str
    model_version: str
    verdicts_json: str


class LatestScoreRow(TypedDict):
    id: int  # the video's
    url: str | None
    author: str | None
    caption: str | None
    uploaded_at: str | None
    path: str
    model_version: str
    scored_at: str
    verdicts_json: str


class PredictionRow(TypedDict):
    timestamp_s: float
    represents: int
    probs_json: str
    frame_id: int | None  # None: the monitor did not keep the frame
    file_name: str | None


class AlertRow(TypedDict):
    id: int
    video_id: int
    target: int
    model_version: str
    status: str  # pending | sent | unknown
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None
    payload_json: str | None
    idempotency_key: str


class RecentAlertRow(TypedDict):
    id: int
    video_id: int
    video: str  # its URL, or the file's path for a video scored from a file
    target: int
    model_version: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: str | None


class DeliveryRow(TypedDict):
    alert_id: int
    endpoint: str  # the address as stored: apprise's privacy form and a digest
    delivered: int  # 1 once it has the alert
    unknown: int  # attempts with no answer in time (or cut off)
    last_error: str | None


class SourceHealthRow(TypedDict):
    source: str
    last_success: str | None
    last_failure: str | None
    consecutive_failures: int
    last_error: str | None
    operator_alerted: int


def all_rows(cursor: sqlite3.Cursor) -> list:
    return [dict(r) for r in cursor]


def one_row(cursor: sqlite3.Cursor) -> dict | None:
    row = cursor.fetchone()
    return None if row is None else dict(row)


def tuples(conn: sqlite3.Connection, sql: str, params=()) -> list[tuple]:
    """Rows as plain tuples, for queries over every frame: at 100,000 rows, half the time of dicts."""
    plain = conn.cursor()
    plain.row_factory = None
    return plain.execute(sql, params).fetchall()
