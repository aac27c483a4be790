"""The workspace database: ordered migrations, each applied in one transaction.

A migration is a name and its statements; `migrate` applies the ones a database has
not recorded yet, in order, each together with its record row, so a crash leaves
the schema at a known version.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

M001_INITIAL = (
    """CREATE TABLE videos (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        url TEXT,
        source TEXT,
        author TEXT,
        caption TEXT,
        uploaded_at TEXT,
        duration_s REAL,
        info_json TEXT,
        added_at TEXT NOT NULL
    )""",
    """CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        file_name TEXT NOT NULL UNIQUE,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        size_bytes INTEGER NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('import', 'capture', 'monitor')),
        video_id INTEGER REFERENCES videos(id),
        timestamp_s REAL,
        represents INTEGER NOT NULL DEFAULT 1,
        phash TEXT,
        label INTEGER,
        added_at TEXT NOT NULL
    )""",
    "CREATE INDEX frames_by_video ON frames(video_id, timestamp_s)",
    # Every name a frame was imported under (the same image may come under two names).
    """CREATE TABLE frame_names (
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        folder TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (folder, name)
    )""",
    # Label history is append-only: an undo is a new action that restores the previous classes.
    """CREATE TABLE label_actions (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('import', 'label', 'review', 'undo')),
        who TEXT NOT NULL,
        at TEXT NOT NULL,
        undoes INTEGER UNIQUE REFERENCES label_actions(id)
    )""",
    """CREATE TABLE label_history (
        id INTEGER PRIMARY KEY,
        action_id INTEGER NOT NULL REFERENCES label_actions(id),
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        class INTEGER,
        previous_class INTEGER
    )""",
    "CREATE INDEX history_by_frame ON label_history(frame_id)",
    # Things a person must decide, e.g. rows that gave one image two different labels.
    """CREATE TABLE review_flags (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        created_at TEXT NOT NULL,
        resolved_at TEXT,
        UNIQUE (frame_id, kind)
    )""",
    """CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL,
        csv_path TEXT,
        at TEXT NOT NULL,
        report_json TEXT NOT NULL
    )""",
    """CREATE TABLE models (
        version TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        backbone TEXT NOT NULL,
        created_at TEXT NOT NULL,
        card_json TEXT NOT NULL
    )""",
    """CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        video_id INTEGER NOT NULL REFERENCES videos(id),
        model_version TEXT NOT NULL,
        timestamp_s REAL NOT NULL,
        represents INTEGER NOT NULL DEFAULT 1,
        frame_id INTEGER REFERENCES frames(id),
        probs_json TEXT NOT NULL,
        UNIQUE (video_id, model_version, timestamp_s)
    )""",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        video_id INTEGER NOT NULL REFERENCES videos(id),
        target INTEGER NOT NULL,
        model_version TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (video_id, target, model_version)
    )""",
)

M002_MONITOR = (
    # One row per (video, model version): a video is scored once per model unless asked again.
    """CREATE TABLE video_scores (
        video_id INTEGER NOT NULL REFERENCES videos(id),
        model_version TEXT NOT NULL,
        scored_at TEXT NOT NULL,
        sampled_frames INTEGER NOT NULL,
        verdicts_json TEXT NOT NULL,
        PRIMARY KEY (video_id, model_version)
    )""",
    """CREATE TABLE source_health (
        source TEXT PRIMARY KEY,
        last_success TEXT,
        last_failure TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        operator_alerted INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE UNIQUE INDEX videos_by_url ON videos(url) WHERE url IS NOT NULL",
    "ALTER TABLE alerts ADD COLUMN payload_json TEXT",
)

M003_REVIEW = (
    # Why a label was given: the queue strategy that showed the frame (random audits estimate precision).
    "ALTER TABLE label_actions ADD COLUMN reason TEXT",
    """CREATE TABLE video_judgements (
        id INTEGER PRIMARY KEY,
        video_id INTEGER NOT NULL REFERENCES videos(id),
        target INTEGER NOT NULL,
        present INTEGER NOT NULL,
        who TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    # The review queue as last built, so it stays put across app reruns until the model changes.
    """CREATE TABLE review_queue (
        position INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        strategy TEXT NOT NULL,
        score REAL NOT NULL,
        reason TEXT NOT NULL,
        probability REAL,
        duplicates_json TEXT NOT NULL,
        model_version TEXT,
        skipped INTEGER NOT NULL DEFAULT 0
    )""",
)

M004_ALERT_ATTEMPTS = (
    # An alert is sent exactly once where the endpoint can tell: every attempt is recorded before it
    # is made, a timed-out or interrupted one is "unknown" (it may have arrived), and retries carry
    # the same idempotency key. 'unknown' as a status: retries ran out with the outcome still unknown.
    """CREATE TABLE alerts_new (
        id INTEGER PRIMARY KEY,
        video_id INTEGER NOT NULL REFERENCES videos(id),
        target INTEGER NOT NULL,
        model_version TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'unknown')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        payload_json TEXT,
        idempotency_key TEXT NOT NULL UNIQUE DEFAULT ('lookout-' || lower(hex(randomblob(12)))),
        UNIQUE (video_id, target, model_version)
    )""",
    """INSERT INTO alerts_new (id, video_id, target, model_version, status, attempts, last_error, created_at,
                              sent_at, payload_json)
       SELECT id, video_id, target, model_version, status, attempts, last_error, created_at, sent_at, payload_json
       FROM alerts""",
    "DROP TABLE alerts",
    "ALTER TABLE alerts_new RENAME TO alerts",
    """CREATE TABLE alert_attempts (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        endpoint TEXT NOT NULL,
        started_at TEXT NOT NULL,
        outcome TEXT CHECK (outcome IN ('delivered', 'failed', 'unknown')),
        error TEXT
    )""",
    "CREATE INDEX attempts_by_alert ON alert_attempts(alert_id, endpoint)",
)

# A frame's side (train or test), fixed the first time a training sees it; keyed by content.
M005_TEST_SET = (
    """CREATE TABLE test_set (
        sha256 TEXT PRIMARY KEY,
        is_test INTEGER NOT NULL CHECK (is_test IN (0, 1)),
        assigned_at TEXT NOT NULL
    )""",
)

# Several labelers at once: the frame each session shows (a lease that expires), and second
# opinions, given blind, that never change a frame's label.
M006_LABELERS = (
    """CREATE TABLE frame_leases (
        frame_id INTEGER PRIMARY KEY REFERENCES frames(id) ON DELETE CASCADE,
        session TEXT NOT NULL,
        who TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    """CREATE TABLE second_opinions (
        frame_id INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
        who TEXT NOT NULL,
        class INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (frame_id, who)
    )""",
)

# Who gave each frame the label it has now (an undo hands the frame back to the action before),
# and which browser made an action: undo takes back only what that person, in that browser, still owns.
M007_LABEL_OWNERS = (
    "ALTER TABLE frames ADD COLUMN label_action INTEGER REFERENCES label_actions(id)",
    "ALTER TABLE label_actions ADD COLUMN session TEXT",
    """UPDATE frames SET label_action = (
        SELECT h.action_id FROM label_history h JOIN label_actions a ON a.id = h.action_id
        WHERE h.frame_id = frames.id AND a.source != 'undo'
          AND NOT EXISTS (SELECT 1 FROM label_actions u WHERE u.undoes = a.id)
        ORDER BY h.id DESC LIMIT 1)""",
)

# A queued frame's label action when it was queued: a "may be wrong" item leaves the queue once answered.
M008_QUEUE_ANSWERS = ("ALTER TABLE review_queue ADD COLUMN label_action_then INTEGER",)

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("m001_initial", M001_INITIAL),
    ("m002_monitor", M002_MONITOR),
    ("m003_review", M003_REVIEW),
    ("m004_alert_attempts", M004_ALERT_ATTEMPTS),
    ("m005_test_set", M005_TEST_SET),
    ("m006_labelers", M006_LABELERS),
    ("m007_label_owners", M007_LABEL_OWNERS),
    ("m008_queue_answers", M008_QUEUE_ANSWERS),
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database; transactions are explicit."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    migrate(conn)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection):
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (a failed COMMIT's too)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # On a full disk SQLite has rolled back already: a second ROLLBACK's error hid the disk's.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def migrate(conn: sqlite3.Connection, migrations=MIGRATIONS) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now."""
    done = set(applied_migrations(conn))
    applied = []
    for name, statements in migrations:
        if name in done:
            continue
        with transaction(conn):
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchone():
                continue  # another process applied it while we waited for the lock
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, now()))
        applied.append(name)
    return applied
