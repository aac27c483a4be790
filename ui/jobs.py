"""Long work (training) in a background thread, shared by every session of the app.

A rerun, a second tab or a closed tab neither kills nor duplicates a running job:
the registry lives for the whole server process, and starting a job that is
already running returns the running one. Errors are kept for the page to show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import LookoutError, full_disk_as_error

log = logging.getLogger("lookout")
ETA_AFTER_S, ETA_AFTER_STEPS = 5.0, 3  # a time left is shown once this much of a stage is done
SMOOTHING = 0.3


@dataclass
class Job:
    name: str
    stage: str = "starting"
    done: int = 0
    total: int = 0
    result: object = None
    error: str | None = None
    finished: bool = False
    owner: str | None = None  # the browser session that started it, shown the outcome; None: a page started it
    dismissed: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    stage_started: float = field(default_factory=time.monotonic)
    pace: float | None = None  # seconds a step, smoothed; None until it means something

    def progress(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage_started, self.pace = now, None
        elif done > self.done and now - self.stage_started >= ETA_AFTER_S and done >= ETA_AFTER_STEPS:
            measured = (now - self.stage_started) / done  # the stage's whole pace, so one slow step cannot swing it
            self.pace = measured if self.pace is None else self.pace + SMOOTHING * (measured - self.pace)
        self.stage, self.done, self.total = stage, done, total

    @property
    def seconds_left(self) -> float | None:
        """This stage's time left at its smoothed pace; None for its first steps and seconds, when a guess
        swung from 1 s to 3 min."""
        if not self.total or self.pace is None:
            return None
        return self.pace * (self.total - self.done)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


JOB_WORDS = {"import": "The import", "capture": "Capturing the videos", "map": "Drawing the map",
             "score": "Scoring the video", "cycle": "The monitor cycle", "review-queue": "Ranking the review queue",
             "similar-index": "Updating the look-alike search", "train": "Training"}


def unexpected_failure(kind: str) -> str:
    """What a page says when a job failed for a reason Lookout did not foresee: no exception text, which
    means nothing to a journalist, but what to do."""
    return (f"{JOB_WORDS.get(kind, 'The work')} stopped on an unexpected problem inside Lookout, not on anything you "
            "did. Try again; if it happens again, send the app's log (the window where `streamlit run app.py` runs) "
            "to whoever looks after Lookout.")


class JobRegistry:
    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Job | None:
        return self._jobs.get(key)

    def start(self, key: str, work: Callable[[Job], object], *, owner: str | None = None,
              writes: Path | None = None) -> Job:
        """Run work(job) in a thread unless a job under `key` is still running.
        writes: the folder it writes in, named if the disk is full."""
        with self._lock:
            running = self._jobs.get(key)
            if running is not None and not running.finished:
                return running
            job = Job(key, owner=owner)
            self._jobs[key] = job

        def run():
            try:
                with full_disk_as_error(writes):
                    job.result = work(job)
            except LookoutError as exc:
                job.error = str(exc)
            except Exception:  # a fault of Lookout's: words on the page, the traceback in the server's log
                log.exception("background job %s failed", key)
                job.error = unexpected_failure(key.split(":", 1)[0])
            finally:
                job.finished = True

        threading.Thread(target=run, name=f"lookout-{key}", daemon=True).start()
        return job
