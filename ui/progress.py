"""Background jobs on a page: start one, and watch its progress without reloading the page."""

from collections.abc import Callable

import streamlit as st

from data import Workspace
from ui.jobs import Job
from ui.workspace import jobs


def job_key(ws: Workspace, kind: str) -> str:
    """One job of a kind per workspace: pressing the button again joins the running one."""
    return f"{kind}:{ws.root}"


def start_job(ws: Workspace, kind: str, work: Callable[[Job], object]) -> Job:
    return jobs().start(job_key(ws, kind), work)


@st.fragment(run_every=1.0)
def job_ui(ws: Workspace, kind: str, title: str, done: Callable[[object], str], *, cancel: str | None = None) -> None:
    """Progress while the job runs, then its result or its error, in the page that started it."""
    key = job_key(ws, kind)
    job = jobs().get(key)
    if job is None:
        return
    watching = st.session_state.setdefault("watching_jobs", set())
    if not job.finished:
        watching.add(id(job))
        counter = f" {job.done}/{job.total}" if job.total else ""
        st.progress(job.fraction, text=f"{title}: {job.stage}{counter}")
        if cancel and st.button(cancel, key=f"cancel-{key}"):
            job.cancel.set()
        return
    if job.error:
        st.error(job.error)
    else:
        st.success(done(job.result))
    if id(job) in watching:  # it just ended: refresh the whole page once to show what it changed
        watching.discard(id(job))
        st.rerun(scope="app")
