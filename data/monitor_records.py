"""What the monitor records about videos: their rows, scores and per-frame predictions, video
judgements, and the health of each source. The caller holds the transaction where one is needed."""

from __future__ import annotations

import json
import sqlite3

from data.rows import LatestScoreRow, PredictionRow, ScoredVideoRow, SourceHealthRow, StoredScoreRow, VideoRow, all_rows, one_row
from data.schema import now


def video_row(conn: sqlite3.Connection, video_id: int) -> VideoRow | None:
    return one_row(conn.execute("SELECT * FROM videos WHERE id = ?", (video_id,)))


def video_by_url(conn: sqlite3.Connection, url: str) -> VideoRow | None:
    return one_row(conn.execute("SELECT * FROM videos WHERE url = ?", (url,)))


def find_video_id(conn: sqlite3.Connection, ref: str, *, sha256: str | None = None) -> int | None:
    """A video's id from its id, URL or path, or its file's content hash."""
    if ref.isdigit() and conn.execute("SELECT 1 FROM videos WHERE id = ?", (int(ref),)).fetchone():
        return int(ref)
    row = conn.execute("SELECT id FROM videos WHERE url = ? OR path = ?", (ref, ref)).fetchone()
    if row is None and sha256:
        row = conn.execute("SELECT id FROM videos WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else row["id"]


def videos_newest_first(conn: sqlite3.Connection) -> list[VideoRow]:
    return all_rows(conn.execute("SELECT * FROM videos ORDER BY id DESC"))


def channel_of_uploader(conn: sqlite3.Connection, handle: str) -> str | None:
    """The channel id yt-dlp last reported for an uploader's handle."""
    row = conn.execute(
        """SELECT json_extract(info_json, '$.channel_id') AS sec_uid FROM videos
           WHERE json_extract(info_json, '$.uploader') = ? AND json_extract(info_json, '$.channel_id') IS NOT NULL
           ORDER BY id DESC LIMIT 1""",
        (handle,),
    ).fetchone()
    return None if row is None else row["sec_uid"]


def is_scored(conn: sqlite3.Connection, video_id: int, model_version: str) -> bool:
    return conn.execute("SELECT 1 FROM video_scores WHERE video_id = ? AND model_version = ?",
                        (video_id, model_version)).fetchone() is not None


def stored_score(conn: sqlite3.Connection, video_id: int, model_version: str) -> StoredScoreRow | None:
    """A video's stored score under a model: when, how many frames, and its verdicts (as dicts)."""
    row = conn.execute("SELECT scored_at, sampled_frames, verdicts_json FROM video_scores "
                       "WHERE video_id = ? AND model_version = ?", (video_id, model_version)).fetchone()
    if row is None:
        return None
    return {"scored_at": row["scored_at"], "sampled_frames": row["sampled_frames"], "verdicts": json.loads(row["verdicts_json"])}


def replace_predictions(conn: sqlite3.Connection, video_id: int, model_version: str,
                        rows: list[tuple[float, int, int | None, list[float]]]) -> None:
    """A video's per-frame predictions under a model: (timestamp_s, represents, frame id or None, probs)."""
    conn.execute("DELETE FROM predictions WHERE video_id = ? AND model_version = ?", (video_id, model_version))
    conn.executemany(
        """INSERT INTO predictions (video_id, model_version, timestamp_s, represents, frame_id, probs_json)
           VALUES (?, ?, ?, ?, ?, ?)""",
        [(video_id, model_version, t, n, frame_id, json.dumps(p)) for t, n, frame_id, p in rows],
    )


def record_video_score(conn: sqlite3.Connection, video_id: int, model_version: str, sampled_frames: int,
                       verdicts: list[dict]) -> None:
    conn.execute("INSERT OR REPLACE INTO video_scores VALUES (?, ?, ?, ?, ?)",
                 (video_id, model_version, now(), sampled_frames, json.dumps(verdicts)))


def record_judgement(conn: sqlite3.Connection, video_id: int, target: int, *, present: bool, who: str) -> None:
    conn.execute("INSERT INTO video_judgements (video_id, target, present, who, at) VALUES (?, ?, ?, ?, ?)",
                 (video_id, target, int(present), who, now()))


def latest_judgement(conn: sqlite3.Connection, video_id: int, target: int) -> bool | None:
    row = conn.execute(
        "SELECT present FROM video_judgements WHERE video_id = ? AND target = ? ORDER BY id DESC LIMIT 1",
        (video_id, target),
    ).fetchone()
    return None if row is None else bool(row["present"])


def record_source_outcome(conn: sqlite3.Connection, source: str, errors: list[str]) -> None:
    """A fetch's outcome: failures count up until a success resets them (and re-arms the operator alert)."""
    conn.execute("INSERT OR IGNORE INTO source_health (source) VALUES (?)", (source,))
    if errors:
        conn.execute(
            """UPDATE source_health SET last_failure = ?, last_error = ?,
               consecutive_failures = consecutive_failures + 1 WHERE source = ?""",
            (now(), "; ".join(errors)[:1000], source),
        )
    else:
        conn.execute(
            """UPDATE source_health SET last_success = ?, consecutive_failures = 0, operator_alerted = 0
               WHERE source = ?""", (now(), source),
        )


def failing_sources(conn: sqlite3.Connection, *, failures: int, at_once: str) -> list[SourceHealthRow]:
    """Sources failing `failures` times in a row (`at_once`: after one failure) not yet told to the operator."""
    return all_rows(conn.execute(
        "SELECT * FROM source_health WHERE consecutive_failures >= (CASE WHEN source = ? THEN 1 ELSE ? END) "
        "AND operator_alerted = 0",
        (at_once, failures),
    ))


def source_health(conn: sqlite3.Connection) -> list[SourceHealthRow]:
    """Every source's last success and failure, failures in a row and last error."""
    return all_rows(conn.execute("SELECT * FROM source_health ORDER BY source"))


def mark_operator_alerted(conn: sqlite3.Connection, source: str) -> None:
    conn.execute("UPDATE source_health SET operator_alerted = 1 WHERE source = ?", (source,))


def recent_scores(conn: sqlite3.Connection, limit: int = 50) -> list[ScoredVideoRow]:
    """The latest scored videos, newest first."""
    return all_rows(conn.execute(
        """SELECT v.id, v.url, v.author, v.path, s.model_version, s.verdicts_json
           FROM video_scores s JOIN videos v ON v.id = s.video_id ORDER BY s.scored_at DESC LIMIT ?""", (limit,)
    ))


def latest_scores(conn: sqlite3.Connection, *, since: str = "", limit: int = 5000) -> list[LatestScoreRow]:
    """Each video's latest score (under the newest model that scored it) since an ISO time, newest first."""
    return all_rows(conn.execute(
        """SELECT v.id, v.url, v.author, v.caption, v.uploaded_at, v.path, s.model_version, s.scored_at, s.verdicts_json
           FROM video_scores s JOIN videos v ON v.id = s.video_id
           WHERE s.scored_at >= ? AND s.scored_at = (SELECT MAX(scored_at) FROM video_scores WHERE video_id = s.video_id)
           ORDER BY s.scored_at DESC LIMIT ?""", (since, limit)
    ))


def predictions_of(conn: sqlite3.Connection, video_id: int, model_version: str) -> list[PredictionRow]:
    """A video's per-frame predictions in time order."""
    return all_rows(conn.execute(
        """SELECT p.timestamp_s, p.represents, p.probs_json, f.id AS frame_id, f.file_name FROM predictions p
           LEFT JOIN frames f ON f.id = p.frame_id
           WHERE p.video_id = ? AND p.model_version = ? ORDER BY p.timestamp_s""",
        (video_id, model_version),
    ))
