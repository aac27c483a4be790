"""python -m data, as a journalist or a script runs it."""

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.media import make_video, save_image


def lookout(*args, env_workspace=None, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("LOOKOUT_WORKSPACE", None)
    if env_workspace:
        env["LOOKOUT_WORKSPACE"] = str(env_workspace)
    return subprocess.run([sys.executable, "-m", "data", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd)


def test_import_label_undo_export_check_from_the_command_line(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(3):
        save_image(folder / f"frame{i}.jpg", i)
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\nframe0.jpg,1\nframe1.jpg,0\n")
    ws = tmp_path / "ws"

    out = lookout("import", folder, env_workspace=ws)
    assert out.returncode == 0, out.stderr
    assert "Images with no row (imported unlabeled): 1" in out.stdout and "frame2.jpg" in out.stdout

    assert lookout("label", "frame2.jpg", "1", "--workspace", ws).returncode == 0
    assert "undid 1 action(s), 1 label(s)" in lookout("undo", "--workspace", ws).stdout
    assert lookout("export", "--out", tmp_path / "labels.csv", "--workspace", ws).returncode == 0
    exported = pd.read_csv(tmp_path / "labels.csv")
    assert dict(zip(exported.Image_ID, exported.Class)) == {"frame0.jpg": 1, "frame1.jpg": 0}
    assert "Labeled: no target 1, target 1" in lookout("check", "--workspace", ws).stdout

    # a frame file damaged on disk is still found, though unchanged frames are not read again
    (ws / "frames" / "frame1.jpg").write_bytes((ws / "frames" / "frame1.jpg").read_bytes()[:100])
    for full in ((), ("--full",)):
        out = lookout("check", *full, "--workspace", ws).stdout
        assert "Unreadable or non-image files (skipped): 1" in out and "frame1.jpg" in out


@pytest.mark.parametrize("stat_in_folder", [True, False], ids=["stat-by-folder", "stat-by-path"])
def test_a_check_reads_only_new_or_changed_files(tmp_path, monkeypatch, stat_in_folder):
    import data.importer
    from data.frames import stored_images
    from data.importer import import_folder, plan_import
    from data.workspace import Workspace

    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(4):
        save_image(folder / f"frame{i}.jpg", i)
    ws = Workspace.open(tmp_path / "ws")
    import_folder(ws, folder)
    save_image(ws.frames_dir / "new.jpg", 9)
    (ws.frames_dir / "frame2.jpg").write_bytes(b"replaced")  # another size: read again, found unreadable
    if not stat_in_folder:  # systems whose stat cannot be relative to an open folder
        monkeypatch.setattr(os, "supports_dir_fd", set())
    read, real = [], data.importer.check_image
    monkeypatch.setattr(data.importer, "check_image", lambda path: read.append(path.name) or real(path))
    report = plan_import(ws.frames_dir, class_names=ws.config.classes, known=stored_images(ws.db)).report
    assert read == ["frame2.jpg", "new.jpg"] and report.image_files == 4
    assert [name for name, _ in report.unreadable] == ["frame2.jpg"]


def test_default_workspace_is_created_in_the_current_folder(tmp_path):
    out = lookout("check", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "workspace" / "project.toml").exists()


def test_expected_failures_print_one_line_and_exit_2(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\n../../etc/passwd,1\n")
    (tmp_path / "fake.mp4").write_text("nope")
    for args in (("import", folder), ("import", tmp_path / "absent"), ("capture", tmp_path / "fake.mp4")):
        out = lookout(*args, "--workspace", tmp_path / "ws")
        assert out.returncode == 2
        assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
        assert out.stderr.count("\n") == 1


def test_capture_prints_a_summary_per_video(tmp_path):
    video = make_video(tmp_path / "speech.mp4", [1, 1, 2])
    out = lookout("capture", video, "--workspace", tmp_path / "ws")
    assert "speech.mp4: 3.0 s, 3 frames sampled, 2 distinct after collapsing near-duplicates, 2 new" in out.stdout


@pytest.mark.parametrize("command, expected_exit, expected_stderr", [
    (["trainer", "list"], 0, ""),
    (["trainer", "predict", "nothing", "x.jpg"], 2, "error: No model 'nothing'"),
    (["monitor", "score", "missing.mp4"], 2, "error: "),
    (["labeler", "queue", "--limit", "1"], 0, ""),
])
def test_commands_print_no_tensorflow_start_up_lines(tmp_path, command, expected_exit, expected_stderr):
    """TensorFlow writes oneDNN/CUDA notices before any setting applies; a journalist sees none of them."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "LOOKOUT_WORKSPACE": str(tmp_path / "ws")}
    out = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == expected_exit, out.stderr
    assert not re.search(r"oneDNN|cuda|absl|I0000|cpu_feature_guard|rebuild TensorFlow", out.stderr), out.stderr
    assert out.stderr.startswith(expected_stderr) and (expected_stderr or out.stderr == "")
    assert out.stdout or out.stderr  # never silent


def test_long_work_prints_progress_to_a_log_file_as_it_goes(monkeypatch, capsys):
    from data import cli

    moments = iter([0.0, 1.0, 6.0, 7.0, 20.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(moments))
    for done in range(1, 6):
        cli.print_progress("features", done, 5)
    assert capsys.readouterr().err.splitlines() == ["features: 1/5", "features: 3/5", "features: 5/5"]


@pytest.mark.parametrize("out, said", [("missing/labels.csv", "no folder"), (".", "that is a folder")])
def test_export_into_a_missing_folder_or_a_folder_says_so_without_a_traceback(tmp_path, out, said):
    done = lookout("export", "--out", tmp_path / out, "--workspace", tmp_path / "ws")
    assert done.returncode != 0 and said in done.stderr and "Traceback" not in done.stderr
