"""Features and video scores computed on a real Ray cluster (a head and a second node on 127.0.0.1)
equal the ones computed on this computer, even when a worker is killed in the middle of the job.

VGG16 with random weights, saved to a file both sides load: the pipeline, not accuracy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from data.config import ProjectConfig, save_config
from tests.media import image_folder, make_video
from tests.servers import RayCluster

FRAMES = 64  # four batches of 16 on two actors: time to kill one in the middle


def lookout(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def cached_features(ws: Path) -> dict[str, np.ndarray]:
    """frame hash -> its cached features, read straight from the workspace's cache files."""
    files = list((ws / "features").glob("vgg16-*/*/*-orig.npy"))
    return {f.name.removesuffix("-orig.npy"): np.load(f.open("rb")) for f in files}


@pytest.fixture(scope="module")
def env(tmp_path_factory, random_vgg16):
    weights = tmp_path_factory.mktemp("weights") / "vgg16-random.weights.h5"
    random_vgg16.model.save_weights(weights)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    return {**env, "LOOKOUT_VGG16_WEIGHTS": str(weights), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.fixture(scope="module")
def cluster(env):
    with RayCluster(env) as running:
        yield running


def new_workspace(path: Path, frames: Path, env: dict) -> Path:
    path.mkdir()
    save_config(ProjectConfig(name="Cluster", classes=("no target", "Trump"), backbone="vgg16"), path / "project.toml")
    lookout("data", "import", str(frames), "--workspace", str(path), env=env)
    return path


def test_features_and_scores_on_a_ray_cluster_equal_local_ones_even_when_a_worker_is_killed(tmp_path, env, cluster):
    frames = image_folder(tmp_path / "frames", range(FRAMES), "".join(f"frame{i}.jpg,{i % 2}\n" for i in range(FRAMES)))
    here = new_workspace(tmp_path / "here", frames, env)
    there = new_workspace(tmp_path / "there", frames, env)
    lookout("trainer", "train", "--workspace", str(here), "--augment", "0", "--epochs", "2", "--activate", env=env)
    version = (here / "models" / "ACTIVE").read_text().strip()
    shutil.copytree(here / "models" / version, there / "models" / version)
    lookout("trainer", "activate", version, "--workspace", str(there), env=env)

    # Every frame's features through the cluster; one worker is killed while it embeds its share.
    job = subprocess.Popen([sys.executable, "-m", "trainer", "features", "--workspace", str(there),
                            "--ray", cluster.address], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in job.stderr:
        if line.startswith("features"):  # the first batch is done, the second is being embedded
            break
    time.sleep(1)
    victims = cluster.actor_pids("BackboneActor")
    assert len(victims) == 2, victims  # one backbone per node
    os.kill(victims[0], signal.SIGKILL)
    out, err = job.communicate(timeout=600)
    assert job.returncode == 0, err
    assert f"{FRAMES} features computed, 0 already cached" in out
    assert victims[0] not in cluster.actor_pids("BackboneActor")  # really killed, and the job still finished

    local, remote = cached_features(here), cached_features(there)
    assert len(remote) == FRAMES and remote.keys() == local.keys()  # none lost
    for sha, features in local.items():
        np.testing.assert_allclose(remote[sha].astype(np.float32), features.astype(np.float32), rtol=0.02, atol=1e-3)
    again = lookout("trainer", "features", "--workspace", str(there), "--ray", cluster.address, env=env)
    assert f"0 features computed, {FRAMES} already cached" in again.stdout

    # A backlog of videos scored through the cluster: the verdicts and probabilities of a local run.
    videos = [str(make_video(tmp_path / f"clip{i}.mp4", [i * 10 + s for s in range(4)], size=(96, 128))) for i in range(3)]
    scored_here = lookout("monitor", "score", "--json", "--workspace", str(here), *videos, env=env)
    scored_there = lookout("monitor", "score", "--json", "--workspace", str(there), "--ray", cluster.address, *videos, env=env)
    for mine, theirs in zip(map(json.loads, scored_here.stdout.splitlines()), map(json.loads, scored_there.stdout.splitlines()),
                            strict=True):
        assert [f["time_s"] for f in mine["frames"]] == [f["time_s"] for f in theirs["frames"]]
        np.testing.assert_allclose([f["probabilities"] for f in theirs["frames"]],
                                   [f["probabilities"] for f in mine["frames"]], atol=2e-3)
        assert [v["positive"] for v in mine["verdicts"]] == [v["positive"] for v in theirs["verdicts"]]
    with sqlite3.connect(there / "lookout.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 3
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT video_id) FROM video_scores").fetchone() == (3, 3)

    # The monitor's cycle scores a folder's backlog several videos at a time: the same detections, each alerted once.
    trend = tmp_path / "trend"
    trend.mkdir()
    for i in range(4):
        make_video(trend / f"new{i}.mp4", [100 + i * 10 + s for s in range(3)], size=(96, 128))
    cycles = {}
    for ws, extra in ((here, []), (there, ["--ray", cluster.address])):
        save_config(ProjectConfig(name="Cluster", classes=("no target", "Trump"), backbone="vgg16",
                                  sources=({"kind": "folder", "path": str(trend)},)), ws / "project.toml")
        cycles[ws] = lookout("monitor", "run-once", "--dry-run", "--workspace", str(ws), *extra, env=env).stdout
    summary = re.compile(r"(\d+) scored, (\d+) detections")
    assert summary.search(cycles[there]).groups() == summary.search(cycles[here]).groups()
    assert summary.search(cycles[there])[1] == "4"
    detections = int(summary.search(cycles[there])[2])
    assert cycles[there].count("[dry run] alert") == cycles[here].count("[dry run] alert") == detections


@pytest.mark.parametrize(("named_by", "address"), [
    ("flag", "127.0.0.1:9"),  # nothing listens there
    ("environment", "no-such-host.invalid:6379"),  # no such host
    ("project.toml", "127.0.0.1:9"),
])
def test_a_cluster_nobody_runs_is_one_clear_line(tmp_path, env, named_by, address):
    frames = image_folder(tmp_path / "frames", range(10), "".join(f"frame{i}.jpg,{i % 2}\n" for i in range(10)))
    ws = new_workspace(tmp_path / "ws", frames, env)
    args, env = ["trainer", "features", "--workspace", str(ws)], dict(env)
    if named_by == "flag":
        args += ["--ray", address]
    elif named_by == "environment":
        env["LOOKOUT_RAY_ADDRESS"] = address
    else:
        save_config(ProjectConfig(name="Cluster", classes=("no target", "Trump"), backbone="vgg16", ray_address=address),
                    ws / "project.toml")
    done = lookout(*args, env=env, check=False)
    assert done.returncode == 2
    assert f"No Ray cluster answers at {address!r}" in done.stderr and "Traceback" not in done.stderr


def test_a_node_without_the_weights_file_is_one_clear_line(tmp_path, env):
    frames = image_folder(tmp_path / "frames", range(4))
    ws = new_workspace(tmp_path / "ws", frames, env)
    bare = {k: v for k, v in env.items() if k != "LOOKOUT_VGG16_WEIGHTS"} | {"KERAS_HOME": str(tmp_path / "keras")}
    with RayCluster(bare, nodes=1) as cluster:
        done = lookout("trainer", "features", "--workspace", str(ws), "--ray", cluster.address, env=env, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"A node of the Ray cluster at '{cluster.address}' could not load the vgg16 backbone: VGG16's ImageNet weights" \
        in done.stderr
