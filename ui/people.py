"""Who is labeling in this browser session.

With a login configured by the operator (Streamlit's `st.login`, see README), the
name comes from it. Otherwise the person types a name once; it is kept for the
browser (its local storage), so a reload or a new tab does not ask again. A typed
name is not a login: anyone can type it. So every label also records the browser
it came from (a random id kept in its local storage), and undo takes back only
what that person did from this browser and still owns.
"""

from __future__ import annotations

import streamlit as st

from data.labels import UndoneAction, undo
from ui.progress import session_token
from ui.words import counted

_JS = r"""
export default function(component) {
  const { data, setStateValue } = component;
  const stored = window.localStorage.getItem("lookout-labeler");
  if (data.name && data.name !== stored) window.localStorage.setItem("lookout-labeler", data.name);
  else if (!data.name && stored) setStateValue("name", stored);
  let browser = window.localStorage.getItem("lookout-browser");
  if (!browser) {  // getRandomValues, unlike randomUUID, works on a page served over plain http
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    browser = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    window.localStorage.setItem("lookout-browser", browser);
  }
  if (data.browser !== browser) setStateValue("browser", browser);
}
"""
_remembered = st.components.v2.component("lookout_labeler", js=_JS)


def _logged_in_name() -> str | None:
    user = getattr(st, "user", None)
    if user is None or not user.get("is_logged_in", False):
        return None
    return user.get("email") or user.get("name")


def labeler() -> str | None:
    """The name this session's labels are recorded under, or None before the person gives one."""
    return _logged_in_name() or st.session_state.get("labeler")


def browser() -> str:
    """This browser's id (until the page has reported it, this session's)."""
    return st.session_state.get("browser") or session_token()


def me() -> dict:
    """Who labels, as the label functions take it: the name and the browser."""
    return {"who": labeler(), "session": browser()}


def undo_mine(ws) -> str | None:
    """Undo this person's last action from this browser; what to tell them (None: nothing to undo)."""
    done = undo(ws, **me())
    return undone_message(done[0]) if done else None


def undone_message(done: UndoneAction) -> str:
    names = ", ".join(done.file_names[:5]) + (" ..." if done.frames > 5 else "")
    said = [f"Undone: your last label, on {names}." if done.frames == 1 else
            f"Undone: your last label action, {counted(done.frames, 'frame')} restored ({names})." if done.frames else
            "Your last label action was not undone:"]
    for who in dict.fromkeys(w for _, w in done.kept):
        theirs = [name for name, w in done.kept if w == who]
        frames = ", ".join(theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
        said.append(f"{who} labeled {frames} since: left as {who}'s.")
    return " ".join(said)


def _typed() -> None:
    st.session_state.labeler = st.session_state.labeler_input.strip() or None


def _login_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises rather than answering no
        return False


def labeler_ui() -> str | None:
    """In the sidebar: the login's name, a sign-in button when the operator set up a login,
    or else a box to type a name (remembered for this browser)."""
    if name := _logged_in_name():
        st.sidebar.caption(f"Labeling as **{name}**")
        return name
    if _login_configured():
        st.sidebar.button("Sign in to label", on_click=st.login)
        return None
    state = st.session_state
    result = _remembered(key="labeler-store", data={"name": state.get("labeler"), "browser": state.get("browser")},
                         on_name_change=lambda: None, on_browser_change=lambda: None)
    if getattr(result, "browser", None):
        state.browser = result.browser
    # Until the browser has answered, the page does not know the name it remembers: it asked for one it had.
    state.awaiting_browser = not state.get("browser")
    if not state.get("labeler") and getattr(result, "name", None):
        state.labeler = result.name
    if not state.get("labeler_input"):  # the remembered name arrives a moment after the page: show it
        state.labeler_input = state.get("labeler") or ""
    st.sidebar.text_input("Your name (kept with each label you give)", key="labeler_input", on_change=_typed)
    st.sidebar.caption("A typed name is not a sign-in: anyone can type it. Undo takes back only what you did in this "
                       "browser. On a shared server, ask whoever runs it to set up sign-in (see README).")
    return state.get("labeler")


def require_labeler() -> str | None:
    """The labeler's name, or a note on the page asking for it (then None: show no label buttons)."""
    name = labeler()
    if name is None and st.session_state.get("awaiting_browser"):
        st.caption("Looking up the name this browser remembers...")
    elif name is None:
        st.info("Type your name in the sidebar first: each label is kept with the name of who gave it.")
    return name
