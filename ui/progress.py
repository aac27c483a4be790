"""Background jobs on a page: start one, and watch its progress without reloading the page."""

import time
import uuid
from collections.abc import Callable

import streamlit as st

from data import Workspace
from ui.jobs import Job
from ui.workspace import jobs


def job_key(ws: Workspace, kind: str) -> str:
    """One job of a kind per workspace: pressing the button again joins the running one."""
    return f"{kind}:{ws.root}"


def session_token() -> str:
    """This browser session's own token (kept in its session state)."""
    return st.session_state.setdefault("session_token", uuid.uuid4().hex)


def start_job(ws: Workspace, kind: str, work: Callable[[Job], object]) -> Job:
    return jobs().start(job_key(ws, kind), work, owner=session_token(), writes=ws.root)


def start_unless_failed(ws: Workspace, kind: str, work: Callable[[Job], object]) -> None:
    """Start (or join) a job a page starts by itself, unless its last run failed and the error is still
    shown: a page that starts it on every run would repeat the failure every second. Nobody pressed a
    button for it, so it has no owner; a failure that holds it back is shown to everyone until closed."""
    last = jobs().get(job_key(ws, kind))
    if last is not None and last.error and not last.dismissed:
        last.owner = None  # even a colleague's click that failed: otherwise this page would wait in silence
        return
    jobs().start(job_key(ws, kind), work, owner=None, writes=ws.root)


def _shown_here(job: Job) -> bool:
    """A finished job's outcome is for the session that started it; a page's own job's error, for all."""
    return job.owner == session_token() or job.owner is None and bool(job.error)


def dismiss_job_message(ws: Workspace, kind: str) -> None:
    """Close a finished job's message, as its "Close this message" button does: what followed replaced it."""
    job = jobs().get(job_key(ws, kind))
    if job is not None and job.finished:
        job.dismissed = True


def job_running(ws: Workspace, kind: str) -> bool:
    job = jobs().get(job_key(ws, kind))
    return job is not None and not job.finished


def job_ui(ws: Workspace, kind: str, title: str, done: Callable[[object], str | tuple[str, str]] | None, *,
           cancel: str | None = None) -> None:
    """Progress while the job runs, then its result (done: None for none) or its error, in the page that started it
    (a page's own job's error: in every page)."""
    st.session_state[_WHOLE_PAGE.format(job_key(ws, kind))] = True  # only a run of the whole page gets here
    _job_fragment(ws, kind, title, done, cancel=cancel)


_WHOLE_PAGE = "whole-page-run:{}"  # session state: set by the page's own run, taken by the fragment


@st.fragment(run_every=1.0)
def _job_fragment(ws: Workspace, kind: str, title: str, done: Callable[[object], str] | None, *, cancel: str | None
                  ) -> None:
    key = job_key(ws, kind)
    whole_page = st.session_state.pop(_WHOLE_PAGE.format(key), False)
    job = jobs().get(key)
    if job is None:
        return
    watching = st.session_state.setdefault("watching_jobs", set())
    if not job.finished:
        watching.add(id(job))
        counter = f" {job.done}/{job.total}" if job.total else ""
        left = job.seconds_left
        eta = f", about {_duration(left)} left" if left is not None and job.done < job.total else ""
        if not eta and (busy := time.monotonic() - job.stage_started) >= 5:  # a step with no count (Map's drawing)
            eta = f", {_duration(busy)} on this step so far"
        st.progress(job.fraction, text=f"{title}: {job.stage}{counter}{eta}")
        if cancel and st.button(cancel, key=f"cancel-{key}"):
            job.cancel.set()
        return
    if (job.error or done is not None) and not job.dismissed and _shown_here(job):  # shown until closed
        if job.error:
            st.error(job.error)
        else:
            said = done(job.result)  # words, or (level, words): a job can end in a warning
            level, words = said if isinstance(said, tuple) else ("success", said)
            getattr(st, level)(words)
        if st.button("Close this message", key=f"dismiss-{key}"):
            job.dismissed = True
            st.rerun(scope="app")
    if id(job) in watching:  # it just ended: every page that showed its progress is drawn anew once
        watching.discard(id(job))
        if not whole_page:  # a run of the whole page draws the rest anew itself; a rerun now would drop its clicks
            st.rerun(scope="app")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class ProgressBar:
    """A progress(stage, done, total) callback that moves a bar on the page while the script works."""

    def __init__(self, bar, title: str):
        self.bar, self.title = bar, title

    def __call__(self, stage: str, done: int, total: int) -> None:
        counter = f" {done}/{total}" if total > 1 else ""
        self.bar.progress(done / total if total else 0.0, text=f"{self.title}: {stage}{counter}")
