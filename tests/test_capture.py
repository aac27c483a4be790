import numpy as np
import pytest

from data.capture import capture_frames
from data.errors import LookoutError
from data.images import load_rgb
from data.video import sample_video
from tests.media import ffmpeg, make_video, pattern


def closest_pattern(rgb, seeds):
    return min(seeds, key=lambda s: np.abs(rgb.astype(int) - pattern(s)).mean())


def test_capture_samples_one_frame_per_second_with_provenance(tmp_path, workspace):
    video = make_video(tmp_path / "clip.mp4", [10, 11, 12, 13])
    report = capture_frames(workspace, video)
    assert (report.sampled, report.kept, report.new_frames) == (4, 4, 4)
    rows = workspace.db.execute(
        "SELECT file_name, timestamp_s, represents, origin, label, video_id FROM frames ORDER BY timestamp_s"
    ).fetchall()
    assert [r["timestamp_s"] for r in rows] == [0.0, 1.0, 2.0, 3.0]
    assert {r["origin"] for r in rows} == {"capture"} and {r["label"] for r in rows} == {None}
    for row, seed in zip(rows, [10, 11, 12, 13]):
        assert closest_pattern(load_rgb(workspace.frames_dir / row["file_name"]), range(10, 14)) == seed
    video_row = workspace.db.execute("SELECT path, duration_s FROM videos").fetchone()
    assert video_row["path"] == str(video.resolve()) and video_row["duration_s"] == pytest.approx(4.0)


def test_capturing_again_adds_nothing(tmp_path, workspace):
    video = make_video(tmp_path / "clip.mp4", [1, 2])
    capture_frames(workspace, video)
    assert capture_frames(workspace, video).new_frames == 0
    assert workspace.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 2


def test_near_identical_runs_collapse_and_keep_their_count(tmp_path, workspace):
    video = make_video(tmp_path / "still.mp4", [5, 5, 5, 6, 7, 7])
    report = capture_frames(workspace, video)
    assert (report.sampled, report.kept) == (6, 3)
    counts = [r[0] for r in workspace.db.execute("SELECT represents FROM frames ORDER BY timestamp_s")]
    assert counts == [3, 1, 2]


def test_variable_frame_rate_uses_presentation_times(tmp_path):
    base = make_video(tmp_path / "base.mp4", [20, 21, 22, 23, 24])
    vfr = tmp_path / "vfr.mp4"  # seconds 1.0-2.5 dropped: the clip jumps from 0.9 s to 2.5 s
    ffmpeg("-i", str(base), "-vf", "select='not(between(t,1,2.45))'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-qp", "0", str(vfr))
    frames = list(sample_video(vfr, fps=1, collapse=False))
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 2.5, 3.0, 4.0], abs=0.01)
    assert [closest_pattern(f.rgb, range(20, 25)) for f in frames] == [20, 22, 23, 24]


def test_rotation_metadata_is_applied(tmp_path):
    base = make_video(tmp_path / "base.mp4", [1])
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(base), "-c", "copy", str(rotated))
    (frame,) = sample_video(rotated, fps=1)
    assert frame.rgb.shape == (64, 48, 3)


def bad_videos(tmp_path):
    good = make_video(tmp_path / "good.mp4", list(range(8)))
    (tmp_path / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "notes.mp4").write_text("not a video at all")
    (tmp_path / "empty.mp4").write_bytes(b"")
    ffmpeg("-f", "lavfi", "-i", "anullsrc=d=1", str(tmp_path / "sound_only.mp4"))
    return {"truncated.mp4": "truncated", "notes.mp4": "not a video", "empty.mp4": "empty", "sound_only.mp4": "not a video"}


def test_bad_videos_are_clear_errors_and_store_nothing(tmp_path, workspace):
    for name, message in bad_videos(tmp_path).items():
        with pytest.raises(LookoutError, match=message) as err:
            capture_frames(workspace, tmp_path / name)
        assert name in str(err.value)
    assert workspace.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0
    assert workspace.db.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 0
    assert list(workspace.frames_dir.iterdir()) == []


def test_a_clip_cut_short_after_its_header_is_reported_truncated(tmp_path, workspace):
    whole = make_video(tmp_path / "whole.mp4", list(range(10)), extra_args=("-movflags", "+faststart"))
    cut = tmp_path / "cut.mp4"  # header up front, so it opens, but the data ends at about 40%
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.4)])
    with pytest.raises(LookoutError, match="cut.mp4 is truncated"):
        capture_frames(workspace, cut)
    assert workspace.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 0


def test_capture_by_url_downloads_then_captures_and_reports_a_dead_link(tmp_path, workspace):
    import os
    import subprocess
    import sys

    from tests.servers import VideoServer

    clip = make_video(tmp_path / "clip.mp4", [10, 11, 12])
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with VideoServer({"clip.mp4": clip}) as server:
        run = lambda url: subprocess.run(  # noqa: E731
            [sys.executable, "-m", "monitor", "capture", url, "--workspace", str(workspace.root)],
            capture_output=True, text=True, env=env, timeout=300,
        )
        done = run(f"{server.url}/clip.mp4")
        missing = run(f"{server.url}/gone.mp4")
    assert done.returncode == 0, done.stderr
    assert "3 frames sampled, 3 distinct" in done.stdout
    video = workspace.db.execute("SELECT id, url, source FROM videos").fetchone()
    assert (video["url"], video["source"]) == (f"{server.url}/clip.mp4", "capture")
    assert workspace.db.execute("SELECT COUNT(*) FROM frames WHERE video_id = ?", (video["id"],)).fetchone()[0] == 3
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert f"Could not fetch {server.url}/gone.mp4" in missing.stderr
