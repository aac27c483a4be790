"""Per-frame work spread over this machine's cores, in processes.

dlib holds Python's lock while it runs and crashes when two threads call one detector, so
threads do not help: the face backbone's HOG detector and descriptor run on one core. Each
worker process builds its own copy of the model once, then takes its share of each batch.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

MAX_WORKERS = 4  # each holds its own copy of the model (TensorFlow and MTCNN included: ~0.6 GB)

_model = None


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _exit_with_parent(parent: int) -> None:
    # A worker whose parent was killed (SIGKILL leaves no time to stop it) would wait forever.
    while os.getppid() == parent:
        time.sleep(2)
    os._exit(0)


def _start(build: Callable[[], object], parent: int) -> None:
    global _model
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    # one thread each: the workers already fill the cores, TensorFlow's own pool would fight them
    os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _model = build()


@contextmanager
def _caller_script_hidden() -> Iterator[None]:
    """A spawned process first runs its parent's __main__ script again, to find functions defined
    there. Here that script is a Streamlit page (which then ran in every worker, with a workspace
    of its own) or a newsroom's own script; the workers need nothing from it, so while they start
    __main__ is a bare module. (A Streamlit rerun starting meanwhile puts its page back: that
    worker runs the page once more, as it always did.)"""
    caller = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = caller


def _call(method: str, item):
    return getattr(_model, method)(item)


class WorkerPool:
    """`map(method, items)` calls `build().method(item)` in worker processes, in order.

    Workers start on first use (spawned, so none inherits the caller's threads) and
    stop with the pool or at exit.
    """

    def __init__(self, build: Callable[[], object], workers: int | None = None):
        self.build = build
        self.workers = min(workers or available_cores(), MAX_WORKERS)
        self._executor: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()  # a page and a background job may both be first

    def map(self, method: str, items: list) -> list:
        with self._starting:
            if self._executor is None:
                executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start, initargs=(self.build, os.getpid()),
                )
                with _caller_script_hidden():  # one task each starts every worker now, none later
                    for _ in range(self.workers):
                        executor.submit(os.getpid)
                self._executor = executor
            executor = self._executor
        return list(executor.map(_call, [method] * len(items), items))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None

    def __del__(self):
        self.close()
