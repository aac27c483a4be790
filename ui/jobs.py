"""Long work (training) in a background thread, shared by every session of the app.

A rerun, a second tab or a closed tab neither kills nor duplicates a running job:
the registry lives for the whole server process, and starting a job that is
already running returns the running one. Errors are kept for the page to show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import LookoutError, full_disk_as_error


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

    def progress(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.stage_started = time.monotonic()
        self.stage, self.done, self.total = stage, done, total

    @property
    def seconds_left(self) -> float | None:
        """This stage's time left at its pace so far (None until a step is done)."""
        if not self.total or not self.done:
            return None
        return (time.monotonic() - self.stage_started) / self.done * (self.total - self.done)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


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
            except Exception as exc:  # shown on the page that started it, not lost in a log
                job.error = f"{type(exc).__name__}: {exc}"
            finally:
                job.finished = True

        threading.Thread(target=run, name=f"lookout-{key}", daemon=True).start()
        return job
