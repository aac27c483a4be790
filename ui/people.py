"""Who is labeling in this browser session.

With a login configured by the operator (Streamlit's `st.login`, see README), the
name comes from it. Otherwise the person types a name once; it is kept for the
browser (its local storage), so a reload or a new tab does not ask again. Every
label records it, and undo takes back only that person's own actions.
"""

from __future__ import annotations

import streamlit as st

_JS = r"""
export default function(component) {
  const { data, setStateValue } = component;
  const stored = window.localStorage.getItem("lookout-labeler");
  if (data.name && data.name !== stored) window.localStorage.setItem("lookout-labeler", data.name);
  else if (!data.name && stored) setStateValue("name", stored);
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
    result = _remembered(key="labeler-store", data={"name": st.session_state.get("labeler")},
                         on_name_change=lambda: None)
    if not st.session_state.get("labeler") and getattr(result, "name", None):
        st.session_state.labeler = result.name
    st.session_state.setdefault("labeler_input", st.session_state.get("labeler") or "")
    st.sidebar.text_input("Your name (kept with each label you give)", key="labeler_input", on_change=_typed)
    return st.session_state.get("labeler")


def require_labeler() -> str | None:
    """The labeler's name, or a note on the page asking for it (then None: show no label buttons)."""
    name = labeler()
    if name is None:
        st.info("Type your name in the sidebar first: each label is kept with the name of who gave it.")
    return name
