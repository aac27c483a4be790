"""The monitor against real components: yt-dlp over HTTP, apprise to a local webhook, SQLite.

The model is the face model trained on the shared dataset, so Trump.mp4 must
alert and Biden.mp4 must not.
"""

import csv
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from filelock import FileLock

from data.config import ProjectConfig
from data.errors import LookoutError
from data.workspace import Workspace
from monitor.cycle import BackboneCache, run_once, watch
from monitor.findings import best_frames, findings, findings_csv
from tests.conftest import fill
from tests.servers import VideoServer, Webhook
from trainer.registry import activate


@pytest.fixture
def clips(dataset):
    return {"trump.mp4": dataset / "Trump.mp4", "biden.mp4": dataset / "Biden.mp4"}


@pytest.fixture
def make_workspace(tmp_path, trained_face_workspace, feature_cache, monkeypatch):
    """A fresh workspace using the trained face model, with the given sources and alert URL.

    Its features are the run's shared cache (the clips' faces are found once per run), unless
    own_features: a test of caching itself, or of a process killed while it finds faces."""
    trained, result = trained_face_workspace

    def make(sources, alert_url, name="ws", *, own_features=False, folder=None):
        if not own_features:  # also for the commands a test starts
            monkeypatch.setenv("LOOKOUT_FEATURE_CACHE", str(feature_cache))
        config = ProjectConfig(name="Monitor", classes=("no target", "Trump"), backbone="face",
                               sources=tuple(sources), alert_urls=(alert_url,))
        ws = Workspace.open((folder or tmp_path) / name, config=config)
        shutil.copytree(trained.models_dir / result.version, ws.models_dir / result.version)
        activate(ws, result.version)
        return ws

    return make


@pytest.fixture
def backbones():
    return BackboneCache()  # the face backbone loads once per test


def quiet(line):
    pass


def test_trump_alerts_once_biden_never_and_is_the_one_finding(clips, make_workspace, backbones):
    with VideoServer(clips) as videos, Webhook() as hook:
        ws = make_workspace([{"kind": "urls", "urls": [f"{videos.url}/trump.mp4", f"{videos.url}/biden.mp4"]}], hook.apprise_url)
        report = run_once(ws, backbones=backbones, log=quiet)
        assert (report.scored, report.detections, report.alerts_sent) == (2, 1, 1)
        assert report.source_errors == {}
        (alert,) = hook.received
        assert alert["title"] == "Lookout: Trump detected"
        assert f"{videos.url}/trump.mp4" in alert["message"] and "sampled frames" in alert["message"]
        assert alert["attachments"] and alert["attachments"][0]["base64"]  # the best frame, attached

        fetched = len(videos.requests)
        again = run_once(ws, backbones=backbones, log=quiet)
        assert (again.scored, again.alerts_sent) == (0, 0)
        assert len(videos.requests) == fetched  # nothing downloaded twice
        assert len(hook.received) == 1
        kept = ws.db.execute("SELECT COUNT(*) FROM frames WHERE origin = 'monitor' AND label IS NULL").fetchone()[0]
        assert kept > 0  # the positive video's frames wait in the review queue

    # What the journalist follows up: Trump.mp4 alone, with its best frames, and a CSV a spreadsheet cannot run
    (found,) = findings(ws)
    assert (found.target, found.link) == ("Trump", f"{videos.url}/trump.mp4") and found.share >= 1 / 3
    frames = best_frames(ws, found)
    assert frames and all(p.is_file() for p, _ in frames) and frames[0][1] >= frames[-1][1]
    assert findings(ws, target="Trump", since="2999-01-01") == []
    ws.db.execute("UPDATE videos SET caption = '=HYPERLINK(\"http://evil\")', author = '@trump' WHERE id = ?",
                  (found.video_id,))
    rows = list(csv.DictReader(io.StringIO(findings_csv(findings(ws)).decode())))
    assert rows[0]["caption"] == "'=HYPERLINK(\"http://evil\")" and rows[0]["author"] == "'@trump"


def test_faults_are_reported_and_the_alert_arrives_once_when_the_endpoint_returns(clips, make_workspace, backbones):
    with VideoServer(clips) as videos, Webhook() as hook:
        videos.faults = {"broken.mp4": "500", "slow.mp4": "hang", "corrupt.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4000}
        urls = [f"{videos.url}/{name}" for name in ("broken.mp4", "slow.mp4", "corrupt.mp4", "trump.mp4")]
        ws = make_workspace([{"kind": "urls", "urls": urls, "timeout_s": 2}], hook.apprise_url)
        hook.down = True
        first = run_once(ws, backbones=backbones, log=quiet)
        assert first.detections == 1 and (first.alerts_sent, first.alerts_pending) == (0, 1)
        errors = " ".join(next(iter(first.source_errors.values())))
        assert "broken.mp4" in errors and "slow.mp4" in errors and "corrupt.mp4" in errors
        health = ws.db.execute("SELECT consecutive_failures, last_error FROM source_health WHERE source LIKE 'urls:%'").fetchone()
        assert health["consecutive_failures"] == 1 and "500" in health["last_error"]
        assert hook.received == []

        hook.down = False
        second = run_once(ws, backbones=backbones, log=quiet)
        assert (second.alerts_sent, second.alerts_pending) == (1, 0)
        run_once(ws, backbones=backbones, log=quiet)  # third failing cycle: the operator hears of it
        titles = [a["title"] for a in hook.received]
        assert titles.count("Lookout: Trump detected") == 1
        assert titles[1:] == ["Lookout: source 4 video links is failing"]


def test_a_failing_source_sends_one_operator_alert_per_streak(tmp_path, make_workspace, backbones):
    with Webhook() as hook:
        ws = make_workspace([{"kind": "folder", "path": str(tmp_path / "missing")}], hook.apprise_url)
        for _ in range(4):
            run_once(ws, backbones=backbones, log=quiet)
        assert [a["title"] for a in hook.received] == ["Lookout: source folder missing is failing"]
        (tmp_path / "missing").mkdir()
        run_once(ws, backbones=backbones, log=quiet)
        row = ws.db.execute(
            "SELECT consecutive_failures, operator_alerted, last_success FROM source_health WHERE source LIKE 'folder:%'"
        ).fetchone()
        assert (row[0], row[1]) == (0, 0) and row[2]


def test_a_full_disk_fails_a_cycle_in_one_line_and_the_monitor_alerts_once_space_is_freed(
    clips, make_workspace, backbones, small_disk
):
    with VideoServer(clips) as videos, Webhook() as hook:
        ws = make_workspace([{"kind": "urls", "urls": [f"{videos.url}/trump.mp4"]}], hook.apprise_url,
                            folder=small_disk("64m"))
        ballast = fill(ws.root)
        lines = []

        def log(line):
            lines.append(line)
            if line.startswith("cycle failed"):  # someone frees space before the next cycle
                ballast.unlink()

        watch(ws, every_s=0, cycles=2, log=log)
        failed = [line for line in lines if line.startswith("cycle failed")]
        assert len(failed) == 1 and "full" in failed[0] and str(ws.root) in failed[0], lines
        assert [a["title"] for a in hook.received] == ["Lookout: Trump detected"]


def test_folder_and_command_sources(tmp_path, clips, make_workspace, backbones):
    trend = tmp_path / "trend"
    trend.mkdir()
    shutil.copy(clips["biden.mp4"], trend / "biden.mp4")
    copy = f"{sys.executable} -c \"import shutil; shutil.copy(r'{clips['trump.mp4']}', 'trump.mp4')\""
    with Webhook() as hook:
        ws = make_workspace(
            [{"kind": "folder", "path": str(trend)},
             {"kind": "command", "command": copy, "folder": str(tmp_path / "scraped")},
             {"kind": "command", "command": f"{sys.executable} -c \"import time; time.sleep(5)\"",
              "folder": str(tmp_path / "slow"), "timeout_s": 1}],
            hook.apprise_url,
        )
        report = run_once(ws, backbones=backbones, log=quiet)
        assert report.scored == 2 and len(hook.received) == 1
        assert any("timed out after 1 s" in e for errors in report.source_errors.values() for e in errors)


def test_a_newly_activated_model_is_used_without_restart(clips, make_workspace, backbones, tmp_path):
    with VideoServer(clips) as videos, Webhook() as hook:
        ws = make_workspace([{"kind": "urls", "urls": [f"{videos.url}/trump.mp4"]}], hook.apprise_url)
        first = run_once(ws, backbones=backbones, log=quiet)
        newer = first.model_version + "-retrained"
        shutil.copytree(ws.models_dir / first.model_version, ws.models_dir / newer)
        card = json.loads((ws.models_dir / newer / "model.json").read_text())
        (ws.models_dir / newer / "model.json").write_text(json.dumps({**card, "version": newer}))
        activate(ws, newer)
        # the video is already downloaded: a folder source sees it again, to be scored by the new model
        ws.save_config(ProjectConfig(**{**ws.config.__dict__, "sources": ({"kind": "folder", "path": "videos"},)}))
        second = run_once(ws, backbones=backbones, log=quiet)
        assert second.model_version == newer and second.scored == 1
        assert len(hook.received) == 1  # scored again by the new version, but one alert per video and target


def test_dry_run_prints_alerts_and_keeps_them(clips, make_workspace, backbones):
    lines = []
    with VideoServer(clips) as videos, Webhook() as hook:
        ws = make_workspace([{"kind": "urls", "urls": [f"{videos.url}/trump.mp4"]}], hook.apprise_url)
        report = run_once(ws, backbones=backbones, dry_run=True, log=lines.append)
        assert hook.received == [] and report.alerts_sent == 0
        assert any(line.startswith("[dry run] alert: Lookout: Trump detected") for line in lines)
        assert any(re.search(r"trump.mp4: Trump \d+/18 DETECTED", line) for line in lines)
        assert run_once(ws, backbones=backbones, log=quiet).alerts_sent == 1


def test_overlapping_runs_are_refused(make_workspace, backbones):
    ws = make_workspace([], "json://127.0.0.1:9/none")
    with FileLock(ws.root / ".monitor.lock"):
        with pytest.raises(LookoutError, match="Another monitor run"):
            run_once(ws, backbones=backbones, log=quiet)


def test_killed_runs_neither_duplicate_nor_miss_an_alert(clips, make_workspace):
    with VideoServer(clips) as videos, Webhook() as hook:
        ws = make_workspace([{"kind": "urls", "urls": [f"{videos.url}/trump.mp4", f"{videos.url}/biden.mp4"]}], hook.apprise_url,
                            own_features=True)
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        command = [sys.executable, "-m", "monitor", "run-once", "--workspace", str(ws.root)]
        rng = random.Random(3)
        for _ in range(3):
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(4, 12))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        subprocess.run(command, env=env, capture_output=True, timeout=600)
        assert [a["title"] for a in hook.received] == ["Lookout: Trump detected"]


def test_score_command_prints_the_tutorials_frame_list_and_verdict(make_workspace, clips):
    ws = make_workspace([], "json://127.0.0.1:9/none")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "score", str(clips["trump.mp4"]), "--workspace", str(ws.root)],
        capture_output=True, text=True, env=env,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    calls = json.loads(lines[1])
    assert len(calls) == 18 and sum(calls) >= 6
    assert lines[2].startswith(f"Trump is in this video: {sum(calls)} of 18 frames") and "best frame at" in lines[2]
    with VideoServer(clips) as videos:  # a URL is downloaded first, and its page's facts kept
        as_json = subprocess.run(
            [sys.executable, "-m", "monitor", "score", f"{videos.url}/biden.mp4", "--json", "--workspace", str(ws.root)],
            capture_output=True, text=True, env=env,
        )
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["verdicts"][0]["positive"] is False and sum(f["represents"] for f in result["frames"]) == 59
    url = ws.db.execute("SELECT url FROM videos WHERE id = ?", (result["video_id"],)).fetchone()["url"]
    assert url == f"{videos.url}/biden.mp4"


def test_each_look_scored_once_gives_the_verdict_of_scoring_every_sampled_frame(clips, make_workspace, backbones):
    import numpy as np

    from data.video import sample_video
    from monitor.scoring import cached_features, score_video
    from monitor.verdict import video_verdicts
    from trainer.registry import load_model

    ws = make_workspace([], "json://127.0.0.1:9/none")
    model = load_model(ws, "active")
    backbone = backbones.for_model(ws, model)
    for clip in clips.values():
        score = score_video(ws, model, backbone, clip, keep_frames=False)
        every = list(sample_video(clip, fps=ws.config.fps, collapse=False))
        probs = model.head.predict_proba(cached_features(ws, backbone)(every))  # a frame's features: its stored JPEG's
        full = video_verdicts(probs, np.ones(len(every), int), classes=model.classes, rule=ws.config.frame_rule,
                              thresholds=model.thresholds(ws.config.frame_rule))
        assert score.forward_passes <= len(score.times) < len(every)
        assert [v.positive for v in score.verdicts] == [v.positive for v in full]
        # a look's shared score may flip the frames it stands for: at most one look's worth
        assert all(abs(v.positive_frames - w.positive_frames) <= max(score.represents)
                   for v, w in zip(score.verdicts, full))


def test_a_crash_between_the_score_and_its_alert_loses_neither(clips, make_workspace, backbones, monkeypatch):
    import monitor.scoring

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after scoring, before the alert is written

    with VideoServer(clips) as videos, Webhook() as hook:
        ws = make_workspace([{"kind": "urls", "urls": [f"{videos.url}/trump.mp4"]}], hook.apprise_url)
        monkeypatch.setattr(monitor.scoring, "record_alert", killed)
        with pytest.raises(KeyboardInterrupt):
            run_once(ws, backbones=backbones, log=quiet)
        monkeypatch.undo()
        report = run_once(ws, backbones=backbones, log=quiet)  # the alert was lost for ever: "0 pending"
        assert report.scored == 1 and [a["title"] for a in hook.received] == ["Lookout: Trump detected"]


def _truncate(ws, version):
    path = ws.models_dir / version / "model.h5"
    path.write_bytes(path.read_bytes()[:1000])


def _wrong_shape(ws, version):
    import keras

    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(2, activation="softmax")])
    model.save(ws.models_dir / version / "model.h5")


def _missing_version(ws, version):
    (ws.models_dir / "ACTIVE").write_text("20990101-000000")


@pytest.mark.parametrize("breakage", [_truncate, _wrong_shape, _missing_version])
def test_a_broken_active_model_tells_the_operator_once_per_streak(make_workspace, backbones, breakage):
    with Webhook() as hook:
        ws = make_workspace([], hook.apprise_url)
        version = (ws.models_dir / "ACTIVE").read_text()
        good = (ws.models_dir / version / "model.h5").read_bytes()
        breakage(ws, version)
        for _ in range(3):  # it stopped detection with only log lines
            with pytest.raises(LookoutError):
                run_once(ws, backbones=backbones, log=quiet)
        assert [a["title"] for a in hook.received] == ["Lookout: the active model cannot be loaded; detection has stopped"]
        (ws.models_dir / version / "model.h5").write_bytes(good)
        activate(ws, version)
        run_once(ws, backbones=backbones, log=quiet)
        breakage(ws, version)
        with pytest.raises(LookoutError):
            run_once(ws, backbones=backbones, log=quiet)
        assert len(hook.received) == 2  # a new streak, a new message


def test_a_video_scored_again_reuses_its_features_and_kept_frames_carry_their_hash(clips, make_workspace, backbones,
                                                                                   monkeypatch):
    from monitor.scoring import score_video
    from trainer.registry import load_model

    ws = make_workspace([], "json://127.0.0.1:9/none", own_features=True)
    model = load_model(ws, "active")
    backbone = backbones.for_model(ws, model)
    embedded, embed = [], backbone.embed
    monkeypatch.setattr(backbone, "embed", lambda images: embedded.append(len(images)) or embed(images))
    first = score_video(ws, model, backbone, clips["trump.mp4"])
    computed = sum(embedded)
    again = score_video(ws, model, backbone, clips["trump.mp4"])  # e.g. with a newly activated model
    assert computed == first.forward_passes and sum(embedded) == computed  # was: every frame recomputed
    assert again.probs == first.probs and first.kept_frames
    hashes = [r[0] for r in ws.db.execute("SELECT phash FROM frames WHERE origin = 'monitor'")]
    assert hashes and None not in hashes  # near-duplicate grouping and the test split see them


def _blind_copy_claiming(ws, version: str, path):
    """The active head with its last layer made to say "no target" to everything, in a .h5 whose card
    claims `version`: a file from elsewhere that names itself like one of ours."""
    import keras
    import numpy as np

    from trainer.registry import export_h5, read_card, write_card_attrs

    path.write_bytes(export_h5(ws, version))
    model = keras.models.load_model(path, compile=False)
    last = model.get_layer("face_classes")
    kernel, bias = last.get_weights()
    last.set_weights([kernel * 0, np.array([8.0] + [-8.0] * (len(bias) - 1), bias.dtype)])
    model.save(path)
    write_card_attrs(path, read_card(ws, version))
    return path


@pytest.mark.parametrize("first_scored_by", ["the active model, by hand", "a foreign file claiming its name"])
def test_a_video_scored_before_the_watch_meets_it_is_alerted_once(tmp_path, clips, make_workspace, backbones, first_scored_by):
    """A hand score is not a monitor verdict (0 alerts for an 18/18 detection), and a file's claimed
    version never stands for ours (its 'no' was stored as the active model's)."""
    from monitor.scoring import score_video
    from trainer.registry import active_version, load_model

    trend = tmp_path / "trend"
    trend.mkdir()
    with Webhook() as hook:
        ws = make_workspace([{"kind": "folder", "path": str(trend)}], hook.apprise_url)
        ref = "active"
        if first_scored_by != "the active model, by hand":
            ref = str(_blind_copy_claiming(ws, active_version(ws), tmp_path / "foreign.h5"))
        model = load_model(ws, ref)
        hand = score_video(ws, model, backbones.for_model(ws, model), clips["trump.mp4"])  # as `monitor score` does
        assert hand.verdicts[0].positive == (ref == "active")
        shutil.copy(clips["trump.mp4"], trend / "trump.mp4")
        for _ in range(2):
            run_once(ws, backbones=backbones, log=quiet)
        assert [a["title"] for a in hook.received] == ["Lookout: Trump detected"]


@pytest.mark.parametrize("sources, level, said", [
    ([], "warning", "No sources are set up, so nothing was fetched"),  # was a green "Cycle done: 0 scored"
    ([{"kind": "folder", "path": "/no/such/trend"}], "error", "Every source failed, so nothing was scored:\n- folder trend:"),
    ([{"kind": "urls", "urls": ["http://127.0.0.1:9/gone.mp4"], "timeout_s": 2}], "error",  # was "a TikTok change"
     "1 video link: the site refused the connection (nothing answers at that address)\n\n  **What to do:** Check the address"),
    # offline or no such host: words, not "[Errno -2] Name or service not known"
    ([{"kind": "urls", "urls": ["http://no-such-host.invalid/x.mp4"], "timeout_s": 2}], "error",
     "Cannot reach no-such-host.invalid (no internet, or no such host)\n\n  **What to do:** This computer could not "
     "reach"),
])
def test_a_cycle_that_fetched_nothing_says_why_not_done(make_workspace, backbones, sources, level, said):
    from ui.monitor import describe_cycle

    with Webhook() as hook:
        ws = make_workspace(sources, hook.apprise_url)
        shown = describe_cycle(run_once(ws, backbones=backbones, log=quiet))
    assert shown[0] == level and said in shown[1] and "Errno" not in shown[1], shown
