"""Several people labeling one workspace: leases, second opinions and agreement, browse and relabel."""

import time

import pytest

from data.labels import set_label, set_labels
from data.leases import LEASE_S
from labeler.leases_and_opinions import (
    agreement,
    give_second_opinion,
    next_for_second_opinion,
    next_to_label,
)
from tests.test_app import page, press, small_workspace


def test_two_sessions_are_never_shown_the_same_frame(workspace, tmp_path):
    ws = small_workspace(workspace.root, tmp_path, n=7)  # 6 unlabeled
    a = next_to_label(ws, session="tab-a", who="alice")
    b = next_to_label(ws, session="tab-b", who="bob")
    assert a["id"] != b["id"]
    assert next_to_label(ws, session="tab-a", who="alice")["id"] == a["id"]  # a redraw keeps its frame
    set_label(ws, a["id"], 1, who="alice")
    a2 = next_to_label(ws, session="tab-a", who="alice")
    assert a2["id"] not in (a["id"], b["id"])
    shown = {next_to_label(ws, session=f"tab-{i}", who="x")["id"] for i in range(3)}  # 3 more tabs: the 3 left
    assert len(shown) == 3 and not shown & {a2["id"], b["id"]}
    assert next_to_label(ws, session="tab-9", who="x") is None  # every frame is on someone's screen


def test_a_colleagues_label_lands_while_a_large_import_is_storing_its_frames(workspace, tmp_path):
    """Copying a large import's frames held the workspace's write lock and database: at 100,000
    frames for a minute, past the 30 s a label or the monitor waits before it fails."""
    import os
    import subprocess
    import sys

    from data.importer import import_folder
    from tests.media import save_image

    ws = small_workspace(workspace.root, tmp_path, n=2)  # frame40.jpg is unlabeled
    big = tmp_path / "big"
    big.mkdir()
    for i in range(20):
        save_image(big / f"new{i}.jpg", 100 + i)
    bobs_label = ("from data.workspace import Workspace; from data.frames import frame_by_id_or_name; "
                  f"from data.labels import set_label; ws = Workspace.open({str(ws.root)!r}); "
                  "set_label(ws, frame_by_id_or_name(ws.db, 'frame40.jpg')['id'], 1, who='bob')")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    landed = []

    def progress(stage, done, total):
        if stage != "reading images" and not landed:  # the folder is read; its frames are being stored
            landed.append(subprocess.run([sys.executable, "-c", bobs_label], capture_output=True, text=True,
                                         env=env, timeout=20))

    report = import_folder(ws, big, progress=progress)
    assert landed[0].returncode == 0, landed[0].stderr
    assert report.new_frames == 20
    assert ws.db.execute("SELECT label FROM frames WHERE file_name = 'frame40.jpg'").fetchone()[0] == 1
    assert "frame40.jpg,1" in ws.mapping_csv.read_text()  # the import's rewrite of the CSV kept bob's label


def test_a_lease_left_open_expires(workspace, tmp_path, monkeypatch):
    ws = small_workspace(workspace.root, tmp_path, n=2)  # one unlabeled frame
    held = next_to_label(ws, session="left-open", who="alice")
    assert next_to_label(ws, session="other", who="bob") is None
    later = time.time() + LEASE_S + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert next_to_label(ws, session="other", who="bob")["id"] == held["id"]


def test_two_tabs_on_the_label_page_show_different_frames_and_undo_their_own(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path)
    alice, bob = page("label", labeler="alice").run(), page("label", labeler="bob").run()
    assert alice.session_state["on_screen"] != bob.session_state["on_screen"]
    alices, bobs = alice.session_state["on_screen"], bob.session_state["on_screen"]
    press(alice, "target").run()
    press(bob, "no target").run()
    labels = dict(ws.db.execute("SELECT id, label FROM frames WHERE label IS NOT NULL AND id != 1").fetchall())
    assert labels == {alices: 1, bobs: 0}
    next(b for b in bob.button if b.label.startswith("Undo")).click().run()
    labels = dict(ws.db.execute("SELECT id, label FROM frames WHERE label IS NOT NULL AND id != 1").fetchall())
    assert labels == {alices: 1}


def test_second_opinions_are_blind_never_change_labels_and_give_kappa(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path, n=9)
    ids = [r[0] for r in ws.db.execute("SELECT id FROM frames ORDER BY id")]
    truth = dict(zip(ids, [1, 1, 1, 1, 0, 0, 0, 0, 0]))
    set_labels(ws, truth, who="alice")
    assert next_for_second_opinion(ws, session="s", who="alice") is None  # not her own frames

    bob = page("label", labeler="bob").run()
    bob.toggle[0].set_value(True).run()
    assert not bob.exception and not [c for c in bob.caption if "model's guess" in c.value]
    for _ in ids:
        shown = bob.session_state["on_screen"]
        press(bob, "target" if shown != ids[0] and truth[shown] == 1 or shown == ids[4] else "no target").run()
    assert "No frame is left for a second opinion" in bob.success[0].value
    assert dict(ws.db.execute("SELECT id, label FROM frames").fetchall()) == truth

    scores = agreement(ws)["target"]
    assert scores["frames"] == 9 and scores["disagree"] == 2
    assert scores["kappa"] == pytest.approx(0.55)  # 7 of 9 agree where chance agrees on 41 of 81
    dataset = page("dataset", labeler="carol").run()
    assert any("Agreement between labelers" in h.value for h in dataset.subheader)
    assert any("kappa" in d.value.columns for d in dataset.dataframe)
    resolve = next(b for b in dataset.button if b.key == f"resolve-{ids[0]}-bob-1")
    resolve.click().run()
    assert ws.db.execute("SELECT label FROM frames WHERE id = ?", (ids[0],)).fetchone()[0] == 1
    assert agreement(ws)["target"]["disagree"] == 1


def test_relabel_several_frames_from_the_grid_and_undo_them_together(ws_env, tmp_path):
    ws = small_workspace(ws_env, tmp_path, n=6)
    ids = [r[0] for r in ws.db.execute("SELECT id FROM frames WHERE label IS NULL ORDER BY id")]
    set_labels(ws, dict.fromkeys(ids, 0), who="alice")
    give_second_opinion(ws, ids[0], 0, who="bob")
    app = page("dataset", labeler="bob").run()
    app.multiselect[2].select("alice").run()  # labeled by
    assert not app.exception
    shown = [c for c in app.checkbox if c.key and c.key.startswith("pick-")]
    assert len(shown) == len(ids)  # the imported label (frame0) is by someone else
    for box in shown[:3]:
        box.check()
    picked = {int(c.key.removeprefix("pick-")) for c in shown[:3]}
    app.selectbox[-1].select(1).run()
    next(b for b in app.button if b.label == "Relabel 3 frames").click().run()
    labels = dict(ws.db.execute("SELECT id, label FROM frames").fetchall())
    assert {i for i in ids if labels[i] == 1} == picked
    assert "Relabeled 3 frames as target" in app.info[0].value
    next(b for b in app.button if b.label == "Undo my last label action").click().run()
    labels = dict(ws.db.execute("SELECT id, label FROM frames").fetchall())
    assert all(labels[i] == 0 for i in ids)
    assert "3 frames restored" in app.info[0].value
