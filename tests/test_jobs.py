"""Background jobs of the app: one per key, errors kept for the page that started them."""

import threading

from data.errors import LookoutError
from ui.jobs import Job, JobRegistry


def wait(job, timeout=10):
    for _ in range(int(timeout / 0.01)):
        if job.finished:
            return job
        threading.Event().wait(0.01)
    raise AssertionError("the job never finished")


def test_pressing_start_again_joins_the_running_job():
    registry, release, runs = JobRegistry(), threading.Event(), []

    def work(job):
        runs.append(job)
        job.progress("counting", 1, 2)
        release.wait(10)
        return "done"

    first = registry.start("import:/ws", work)
    second = registry.start("import:/ws", work)  # a rerun, or a second tab
    assert second is first and registry.get("import:/ws") is first
    release.set()
    assert wait(first).result == "done" and len(runs) == 1
    again = registry.start("import:/ws", work)  # finished: a new press starts a new job
    assert again is not first and wait(again).result == "done" and len(runs) == 2


def test_errors_are_kept_as_messages_and_cancel_reaches_the_work(small_disk):
    registry = JobRegistry()
    disk = small_disk("1m")

    def fails(job):
        raise LookoutError("frames.zip is not a zip file")

    def fills_the_disk(job):
        (disk / "features.npy").write_bytes(b"\0" * 2_000_000)

    def crashes(job):
        raise KeyError("boom")

    def loads_while_a_page_reruns(job):  # what the Monitor page showed after a training (issue: a Python error)
        raise ValueError("You called set_weights(weights) on layer 'p_net' with a weight list of length 13, "
                         "but the layer was expecting 11 weights.")

    def cancellable(job):
        job.cancel.wait(10)
        return "stopped" if job.cancel.is_set() else "timed out"

    assert wait(registry.start("a", fails)).error == "frames.zip is not a zip file"
    for key, work, doing in (("train:/ws", crashes, "Training"), ("cycle:/ws", loads_while_a_page_reruns, "The monitor cycle")):
        error = wait(registry.start(key, work)).error
        assert error.startswith(f"{doing} stopped on an unexpected problem inside Lookout") and "Try again" in error
        assert not any(text in error for text in ("Error", "boom", "set_weights", "p_net"))  # no exception text
    assert wait(registry.start("d", fills_the_disk, writes=disk)).error == (
        f"The disk is full where Lookout writes {disk}; free some space on it and try again.")
    job = registry.start("c", cancellable)
    job.cancel.set()
    assert wait(job).result == "stopped"


RELEASE = threading.Event()  # lets the test end the page's job between two clicks


def _page_with_a_job():
    import streamlit as st

    from tests.test_jobs import RELEASE
    from ui.progress import job_ui, start_job
    from ui.workspace import current_workspace

    ws = current_workspace()
    if st.button("Start"):
        start_job(ws, "wait", lambda job: RELEASE.wait(30))
    job_ui(ws, "wait", "Waiting", lambda result: "Finished.")
    if st.button("Activate"):
        st.session_state.clicks = st.session_state.get("clicks", 0) + 1


def test_a_click_made_as_a_job_ends_is_not_lost(ws_env):
    """CI: Activate was pressed on the Train page in the run where the training job was seen to end;
    the page reloaded itself to show what the job changed, and the click was dropped."""
    from streamlit.testing.v1 import AppTest

    from data.workspace import Workspace
    from ui.progress import job_key
    from ui.workspace import jobs

    RELEASE.clear()
    app = AppTest.from_function(_page_with_a_job, default_timeout=30).run()
    next(b for b in app.button if b.label == "Start").click().run()
    assert app.get("progress")  # the page saw the job running
    RELEASE.set()
    wait(jobs().get(job_key(Workspace.open(ws_env), "wait")))
    next(b for b in app.button if b.label == "Activate").click().run()
    assert "clicks" in app.session_state and app.session_state["clicks"] == 1, "the click was lost"
    assert app.success[0].value == "Finished."


def test_the_time_left_waits_until_it_means_something_then_holds_steady(monkeypatch):
    """Training's ETA swung from 1 s to 3 min: a first fast step promised seconds, a slow one minutes."""
    from ui import jobs as jobs_module

    clock = [0.0]
    monkeypatch.setattr(jobs_module.time, "monotonic", lambda: clock[0])
    job = Job("train")
    job.progress("training", 0, 100)
    shown = []
    for step, seconds in enumerate([0.1, 0.1, 6, 1, 1, 5, 1, 1, 1, 1], start=1):  # uneven steps, ~1.8 s on average
        clock[0] += seconds
        job.progress("training", step, 100)
        shown.append(job.seconds_left)
    assert shown[:2] == [None, None]  # after 0.2 s: no guess at all (it said "about 1 s")
    guesses = [s for s in shown if s is not None]
    assert guesses and max(guesses) / min(guesses) < 1.6  # steady: never 1 s one moment and 3 min the next
    job.progress("saving", 0, 1)
    assert job.seconds_left is None  # a new stage starts without a guess


def test_a_step_without_a_count_says_how_long_it_has_worked(ws_env):
    """Map's first drawing sat at "0/1" for 2 minutes with nothing moving: was it stuck?"""
    from streamlit.testing.v1 import AppTest

    from data.workspace import Workspace
    from ui.progress import job_key
    from ui.workspace import jobs

    RELEASE.clear()
    app = AppTest.from_function(_page_with_a_job, default_timeout=30).run()
    next(b for b in app.button if b.label == "Start").click().run()
    job = jobs().get(job_key(Workspace.open(ws_env), "wait"))
    job.progress("drawing the map of 584 frames", 0, 1)
    job.stage_started -= 40  # as if it had drawn for 40 s
    app.run()
    (bar,) = app.get("progress")
    RELEASE.set()
    wait(job)
    assert "drawing the map of 584 frames 0/1" in bar.proto.text and "40 s on this step so far" in bar.proto.text
