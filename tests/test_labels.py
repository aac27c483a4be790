import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from data.errors import LookoutError
from data.importer import import_folder
from data.labels import set_label, set_labels, undo
from tests.media import image_folder, save_image


@pytest.fixture
def frames(tmp_path, workspace):
    import_folder(workspace, image_folder(tmp_path / "in", range(4), "frame0.jpg,0\n"))
    return {r["file_name"]: r["id"] for r in workspace.db.execute("SELECT id, file_name FROM frames")}


def csv_labels(ws):
    mapping = pd.read_csv(ws.mapping_csv)
    return dict(zip(mapping.Image_ID, mapping.Class))


def test_a_label_is_in_history_and_in_the_csv_when_the_call_returns(workspace, frames):
    set_label(workspace, frames["frame1.jpg"], 1, who="ana")
    assert csv_labels(workspace) == {"frame0.jpg": 0, "frame1.jpg": 1}
    row = workspace.db.execute(
        """SELECT h.class, h.previous_class, a.source, a.who FROM label_history h
           JOIN label_actions a ON a.id = h.action_id ORDER BY h.id DESC LIMIT 1"""
    ).fetchone()
    assert tuple(row) == (1, None, "label", "ana")


def test_undo_restores_previous_labels_one_action_at_a_time(workspace, frames):
    set_label(workspace, frames["frame0.jpg"], 1)  # relabel an imported frame
    set_labels(workspace, {frames["frame2.jpg"]: 0, frames["frame3.jpg"]: 0}, source="review")
    done = undo(workspace)
    assert [(a.source, a.frames) for a in done] == [("review", 2)]
    assert csv_labels(workspace) == {"frame0.jpg": 1}
    undo(workspace)
    assert csv_labels(workspace) == {"frame0.jpg": 0}
    assert undo(workspace) == []  # the import itself is not undone by the label page's undo
    kinds = [r[0] for r in workspace.db.execute("SELECT source FROM label_actions ORDER BY id")]
    assert kinds == ["import", "label", "review", "undo", "undo"]  # history only grows


def test_unknown_class_or_frame_is_refused(workspace, frames):
    with pytest.raises(LookoutError, match="Class 2 is not a class"):
        set_label(workspace, frames["frame1.jpg"], 2)
    with pytest.raises(LookoutError, match="Frame 999 is not in this workspace"):
        set_label(workspace, 999, 1)
    assert csv_labels(workspace) == {"frame0.jpg": 0}


def test_reimport_keeps_a_label_the_journalist_changed(tmp_path, workspace, frames):
    set_label(workspace, frames["frame0.jpg"], 1)
    report = import_folder(workspace, tmp_path / "in")
    assert report.kept_existing_labels == ["frame0.jpg"]
    assert csv_labels(workspace)["frame0.jpg"] == 1


def test_conflicting_rows_leave_the_image_unlabeled_and_flagged(tmp_path, workspace):
    folder = tmp_path / "conflict"
    folder.mkdir()
    save_image(folder / "a.jpg", 1)
    save_image(folder / "b.jpg", 2)
    (folder / "b_copy.jpg").write_bytes((folder / "b.jpg").read_bytes())
    (folder / "mapping_trump.csv").write_text("Image_ID,Class\na.jpg,0\na.jpg,1\nb.jpg,0\nb_copy.jpg,1\n")
    report = import_folder(workspace, folder)
    assert report.conflicting_rows == ["a.jpg", "b.jpg", "b_copy.jpg"]
    assert csv_labels(workspace) == {}
    flags = workspace.db.execute("SELECT kind, detail FROM review_flags ORDER BY id").fetchall()
    assert [f["kind"] for f in flags] == ["conflicting_labels"] * 2
    assert "a.jpg: no target, Trump" in flags[0]["detail"]


WRITER = """
import sys
from data.labels import set_label
from data.workspace import Workspace
ws = Workspace.open(sys.argv[1])
ids = [r[0] for r in ws.db.execute("SELECT id FROM frames ORDER BY id")]
i = int(sys.argv[2])
while True:
    frame = ids[i % len(ids)]
    set_label(ws, frame, i % 2)
    sys.stdout.write(f"{frame} {i % 2}\\n")  # one write: a kill never splits a line
    sys.stdout.flush()
    i += 1
"""


def test_labels_survive_sigkill_at_random_moments(tmp_path, workspace, frames):
    """A process labels in a loop and is killed; every label it reported is in a parseable CSV."""
    rng = random.Random(7)
    written = {}
    names = {v: k for k, v in frames.items()}
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    step = 0
    for _ in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(workspace.root), str(step)], stdout=subprocess.PIPE, text=True, env=env
        )
        time.sleep(rng.uniform(0.3, 0.9))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        for line in out.split("\n")[:-1]:  # the text after the last newline may be cut short
            frame, label = map(int, line.split())
            written[names[frame]] = label
            step += 1
        labels = csv_labels(workspace)  # parses after every kill
        for name, label in written.items():
            assert labels.get(name) == label, (name, label)
    assert step > 25  # the writer really was labeling when it was killed
    from data.workspace import Workspace

    Workspace.open(workspace.root).close()  # the next run cleans what the killed writers left half-written
    assert list(workspace.root.glob(".mapping_trump.csv.*.tmp")) == []  # 100 kills left 31, kept for good


def test_label_timeline_counts_frames_per_class_per_day(workspace, frames):
    from data.labels import label_timeline

    set_label(workspace, frames["frame1.jpg"], 1)
    set_label(workspace, frames["frame0.jpg"], 1)  # a relabel moves a frame, it does not add one
    (today,) = label_timeline(workspace)
    assert (today["no target"], today["Trump"]) == (0, 2)


def test_labeling_while_a_job_writes_through_the_same_workspace_loses_nothing(tmp_path, workspace, frames):
    """The app shares one Workspace between tabs and background jobs; each thread needs its own transactions."""
    import threading

    from data.capture import record_video

    ids = list(frames.values())
    errors = []

    def labeling():
        try:
            for i in range(50):
                for frame_id in ids:
                    set_label(workspace, frame_id, i % 2)
        except Exception as exc:  # noqa: BLE001 - any failure fails the test below
            errors.append(exc)

    def job():  # records videos the way capture and scoring jobs do
        try:
            for i in range(200):
                video = tmp_path / f"v{i}.mp4"
                video.write_bytes(b"video %d" % i)
                record_video(workspace, video)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=labeling), threading.Thread(target=job)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert workspace.db.execute("SELECT COUNT(*) FROM videos").fetchone()[0] == 200
    assert workspace.db.execute("SELECT COUNT(*) FROM label_history").fetchone()[0] == 1 + 50 * len(ids)
    assert csv_labels(workspace) == {
        r["file_name"]: r["label"] for r in workspace.db.execute("SELECT file_name, label FROM frames")
    }


# Two people on one frame, and a name typed in a second browser: each row is what they did, in order,
# then frame0's label, who the Dataset page credits with it, and what the last undo said.
# ("label", who, browser, class) labels frame0 (frame0 was imported as 0); ("undo", who, browser).
UNDO_AMONG_PEOPLE = [
    pytest.param([("label", "alice", "A", 1), ("label", "bob", "B", 0), ("undo", "alice", "A")],
                 0, "bob", "Your last label action was not undone: bob labeled frame0.jpg since: left as bob's.",
                 id="bob-relabeled-since"),  # erased Bob's
    pytest.param([("label", "alice", "A", 1), ("label", "bob", "B", 0), ("undo", "bob", "B"), ("undo", "alice", "A")],
                 0, "import", "Undone: your last label, on frame0.jpg.", id="bob-undid-his-first"),
    pytest.param([("label", "alice", "A", 1), ("label", "bob", "B", 0), ("undo", "alice", "A"), ("undo", "bob", "B")],
                 0, "import", "Undone: your last label, on frame0.jpg.", id="alices-undone-label-stays-undone"),
    pytest.param([("label", "alice", "A", 1), ("undo", "alice", "A")],
                 0, "import", "Undone: your last label, on frame0.jpg.", id="credited-to-the-import-not-alice"),
    pytest.param([("label", "alice", "A", 1), ("undo", "alice", "B")],
                 1, "alice", None, id="alice-typed-in-another-browser"),  # undid Alice's work
    pytest.param([("label", "alice", "A", 1), ("label", "alice", "A", 0), ("undo", "alice", "A")],
                 1, "alice", "Undone: your last label, on frame0.jpg.", id="own-labels-step-back"),
]


@pytest.mark.parametrize("steps, label, credited, said", UNDO_AMONG_PEOPLE)
def test_undo_takes_back_only_what_is_still_that_persons_in_that_browser(workspace, frames, steps, label, credited, said):
    from data.labels import labels_by_person
    from ui.people import undone_message

    told = None
    for kind, who, browser, *label_given in steps:
        if kind == "label":
            set_label(workspace, frames["frame0.jpg"], label_given[0], who=who, session=browser)
        else:
            done = undo(workspace, who=who, session=browser)
            told = undone_message(done[0]) if done else None
    assert csv_labels(workspace)["frame0.jpg"] == label
    assert told == said
    people = labels_by_person(workspace)
    assert people[credited][workspace.config.classes[label]] == 1
    assert sum(n for counts in people.values() for n in counts.values()) == 1  # no one else credited


def test_a_box_labeled_and_undone_credits_no_one_with_the_labels_that_stand(workspace, frames):
    """56 frames labeled by a Map box and undone: the Dataset page credited Alice with them."""
    from data.labels import labels_by_person
    from data.leases import opinions, record_second_opinion

    everything = list(frames.values())
    set_labels(workspace, dict.fromkeys(everything, 1), who="alice", session="A")
    record_second_opinion(workspace.db, frames["frame0.jpg"], 1, who="bob")
    undo(workspace, who="alice", session="A")
    assert labels_by_person(workspace) == {"import": {"no target": 1, "Trump": 0}}
    assert [(r["labeled_by"], r["second"]) for r in opinions(workspace.db)] == [("import", "bob")]


# Each step: (who, {frame: label}) set as one action, or ("undo", who) for that person's last action.
@pytest.mark.parametrize("after, expected, back", [
    ([("sab", {1: 0, 2: 0})], {"sab": {"frame1.jpg": None, "frame2.jpg": None}}, {"frame1.jpg": None, "frame2.jpg": None}),
    ([("sab", {1: 0}), ("sab", {1: None})], {}, {}),  # changed and changed back: no change
    ([("sab", {1: 0, 2: 0}), ("ana", {2: 1})],  # ana's later label stands, and is hers to undo
     {"sab": {"frame1.jpg": None}, "ana": {"frame2.jpg": None}}, {"frame1.jpg": None, "frame2.jpg": 1}),
    ([("sab", {0: 1}), ("undo", "sab")], {}, {}),  # undone already
    ([("sab", {0: 1, 3: 1})], {"sab": {"frame0.jpg": 0, "frame3.jpg": None}}, {"frame0.jpg": 0, "frame3.jpg": None}),
], ids=["new labels", "changed back", "a colleague's later label", "undone", "relabel and new"])
def test_label_changes_since_a_version_per_person_and_undoing_one_persons(workspace, frames, after, expected, back):
    from data.label_changes import label_changes_since, undo_changes_since
    from data.labels import last_action_id

    since = last_action_id(workspace.db)  # frame0 labeled 0 by the import, the rest unlabeled
    names = {i: f"frame{i}.jpg" for i in range(4)}
    for who, change in after:
        if who == "undo":
            undo(workspace, who=change)
        else:
            set_labels(workspace, {frames[names[i]]: label for i, label in change.items()}, who=who)
    by_id = {v: k for k, v in frames.items()}
    changes = {c.who: {by_id[f]: then for f, then in c.frames.items()} for c in label_changes_since(workspace, since)}
    assert changes == expected
    if "sab" in expected:
        assert undo_changes_since(workspace, since, "sab", who="lead") == len(expected["sab"])
        now = dict(workspace.db.execute("SELECT file_name, label FROM frames").fetchall())
        assert {name: now[name] for name in back} == back
        assert "sab" not in {c.who for c in label_changes_since(workspace, since)}
        assert undo(workspace, who="lead")[0].frames == len(expected["sab"])  # the undo is itself undoable
