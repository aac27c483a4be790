"""python -m data, as a journalist or a script runs it."""

import os
import subprocess
import sys

import pandas as pd

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
