import sqlite3

import pytest

from data.schema import MIGRATIONS, applied_migrations, connect, migrate


def test_migrations_apply_once_in_order_on_a_fresh_database():
    conn = connect(":memory:")
    assert applied_migrations(conn) == [name for name, _ in MIGRATIONS]
    assert migrate(conn) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"frames", "label_actions", "label_history", "videos", "predictions", "models", "alerts"} <= tables


def test_a_failing_migration_leaves_no_half_applied_schema():
    conn = connect(":memory:")
    broken = MIGRATIONS + (("m999_broken", ("CREATE TABLE half (x)", "CREATE TABLE frames (y)")),)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    assert "m999_broken" not in applied_migrations(conn)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half'").fetchone()


def test_every_query_function_returns_plain_dicts_with_exactly_its_declared_keys(workspace, tmp_path):
    """Pages and packages read rows by the keys data/rows.py declares; a query that drifts from
    its declaration (or hands out sqlite3.Row) breaks a second database backend."""
    import typing

    from data import alert_records, browse_labeled, frames, labels, leases, monitor_records, review_queue, rows
    from data.capture import record_video
    from data.frames import FrameStore, NewFrame
    from data.schema import now, transaction

    ws, db = workspace, workspace.db
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video")
    video = record_video(ws, clip, url="https://www.tiktok.com/@a/video/1", author="a")
    with transaction(db), FrameStore(db, ws.frames_dir) as store:
        ids = [store.add(NewFrame(bytes([i]), f"{i:064x}", f"f{i}.jpg", 8, 8, "monitor", video, float(i), phash="ff"))[0]
               for i in range(3)]
        db.execute("INSERT INTO predictions (video_id, model_version, timestamp_s, represents, frame_id, probs_json) "
                   "VALUES (?, 'v1', 0, 1, ?, '[0.5]')", (video, ids[0]))
        monitor_records.record_video_score(db, video, "v1", 3, [])
        alert_records.record_alert(db, video, 1, "v1", {"title": "t"})
        monitor_records.record_source_outcome(db, "trending", ["it broke"])
        db.execute("INSERT INTO review_flags (frame_id, kind, detail, created_at) VALUES (?, 'conflict', 'x', ?)",
                   (ids[2], now()))
    labels.set_label(ws, ids[0], 1, who="ana")
    leases.record_second_opinion(db, ids[0], 0, who="ben")
    review_queue.replace_queue(db, [{"frame_id": ids[1], "strategy": "uncertain", "score": 0.5, "reason": "r",
                                     "probability": 0.5, "duplicates": []}], "v1")

    cases = [
        (rows.FrameRow, frames.frames_after(db, 0)),
        (rows.FrameRow, frames.frames_by_sha(db, [f"{0:064x}"])),
        (rows.FrameRow, frames.frames_by_id(db, ids)),
        (rows.FrameRow, frames.unlabeled_frames(db)),
        (rows.FrameRow, frames.labeled_frames_by_id(db)),
        (rows.FrameRow, frames.frames_in_time_order(db, ids)),
        (rows.FrameRow, frames.frames_of_video(db, video)),
        (rows.FrameRow, [frames.frame_by_id_or_name(db, "f1.jpg")]),
        (rows.FrameRow, [leases.lease_next(db, leases.UNLABELED, session="s", who="ana")]),
        (rows.LabeledFrameRow, browse_labeled.labeled_frames(db, browse_labeled.BrowseFilter())),
        (rows.OpinionRow, leases.opinions(db)),
        (rows.QueuedRow, review_queue.queued(db)),
        (rows.ConflictRow, labels.open_conflicts(ws)),
        (rows.VideoRow, [monitor_records.video_row(db, video)]),
        (rows.VideoRow, monitor_records.videos_newest_first(db)),
        (rows.ScoredVideoRow, monitor_records.recent_scores(db)),
        (rows.PredictionRow, monitor_records.predictions_of(db, video, "v1")),
        (rows.SourceHealthRow, monitor_records.source_health(db)),
        (rows.SourceHealthRow, monitor_records.failing_sources(db, failures=1, at_once="")),
        (rows.AlertRow, alert_records.pending_alerts(db)),
        (rows.RecentAlertRow, alert_records.recent_alerts(db)),
    ]
    for declared, returned in cases:
        assert returned, f"no {declared.__name__} to check"
        for row in returned:
            assert type(row) is dict and set(row) == set(typing.get_type_hints(declared)), declared.__name__
