"""Background jobs of the app: one per key, errors kept for the page that started them."""

import threading

from data.errors import LookoutError
from ui.jobs import JobRegistry


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


def test_errors_are_kept_as_messages_and_cancel_reaches_the_work():
    registry = JobRegistry()

    def fails(job):
        raise LookoutError("frames.zip is not a zip file")

    def crashes(job):
        raise KeyError("boom")

    def cancellable(job):
        job.cancel.wait(10)
        return "stopped" if job.cancel.is_set() else "timed out"

    assert wait(registry.start("a", fails)).error == "frames.zip is not a zip file"
    assert wait(registry.start("b", crashes)).error == "KeyError: 'boom'"
    job = registry.start("c", cancellable)
    job.cancel.set()
    assert wait(job).result == "stopped"
