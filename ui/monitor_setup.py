"""Monitor page, set-up part: where videos come from and where alerts go, written to project.toml."""

import streamlit as st

from data import LookoutError
from monitor.setup import (
    SOURCE_KINDS,
    add_alert_url,
    add_source,
    alert_url_key,
    check_alert_url,
    describe_source,
    remove_alert_url,
    remove_source,
    send_test_alert,
    shown_alert_url,
    source_settings,
)
from ui.workspace import serving_others

PLACEHOLDERS = {
    "accounts": "@account, one per line",
    "urls": "https://www.tiktok.com/@account/video/123..., one per line",
    "folder": "the folder the videos are dropped in, e.g. /home/me/trend",
    "command": "a command that downloads videos into the folder 'trend' of the workspace",
}


def setup_ui(ws) -> None:
    config = ws.config
    # Open while something is missing, and for whoever is changing it (closing it under their hands hid
    # the test-alert button the moment the second half was added).
    opened = not config.sources or not config.alert_urls or "setup_note" in st.session_state \
        or st.session_state.get("setup_open", False)
    st.session_state["setup_open"] = opened
    with st.expander("Set up: where videos come from, where alerts go", expanded=opened):
        st.caption("Saved in the workspace's project.toml, which every monitor cycle reads anew.")
        if note := st.session_state.pop("setup_note", None):
            level, words = note
            getattr(st, level)(words)
        sources_ui(ws)
        alerts_ui(ws)


def sources_ui(ws) -> None:
    st.markdown("**Sources**")
    if not ws.config.sources:
        st.caption("No sources yet: a cycle has nothing to fetch.")
    for i, settings in enumerate(ws.config.sources):
        words, button = st.columns([5, 1])
        words.write(describe_source(settings))
        button.button("Remove", key=f"remove-source-{i}", on_click=_remove_source, args=(ws, settings))
    kind = st.selectbox("Add a source", list(SOURCE_KINDS), format_func=SOURCE_KINDS.get, key="source-kind")
    text = st.text_area("What to watch", key="source-text", placeholder=PLACEHOLDERS[kind], height=80)
    newest = st.number_input("Newest videos per account", 1, 50, 5, key="source-newest") if kind == "accounts" else 5
    ready = False
    if text.strip():
        try:
            source_settings(ws, kind, text, newest=newest, serving_others=serving_others())
            ready = True
        except LookoutError as exc:
            st.error(str(exc))
    st.button("Add this source", disabled=not ready, on_click=_add_source, args=(ws,))


def _noted(change):
    """A button's change, run before the page redraws, with what it did (or why not) for the page to say."""
    def run(*args):
        try:
            st.session_state["setup_note"] = ("success", change(*args))
        except LookoutError as exc:
            st.session_state["setup_note"] = ("error", str(exc))
    return run


@_noted
def _add_source(ws) -> str:
    state = st.session_state
    settings = source_settings(ws, state["source-kind"], state["source-text"],
                               newest=int(state.get("source-newest", 5)), serving_others=serving_others())
    add_source(ws, settings)
    state["source-text"] = ""
    return f"Added: {describe_source(settings)}."


@_noted
def _remove_source(ws, settings: dict) -> str:
    remove_source(ws, settings)
    return f"Removed: {describe_source(settings)}."


def alerts_ui(ws) -> None:
    st.markdown("**Alerts go to**")
    urls = ws.config.alert_urls
    if not urls:
        st.caption("Nowhere yet: detections are recorded and wait for an alert address.")
    for i, url in enumerate(urls):
        shown = shown_alert_url(url)
        words, button = st.columns([5, 1])
        words.code(shown, language=None)
        button.button("Remove", key=f"remove-alert-{i}", on_click=_remove_alert, args=(ws, alert_url_key(url), shown))
    url = st.text_input("Add an alert address", key="alert-url", type="password",
                        help="An apprise address: slack://TokenA/TokenB/TokenC, mailtos://user:password@example.com, "
                             "json://example.com/hook for a webhook, and many more. Its secrets are not shown again.")
    ready = False
    if url.strip():
        try:
            check_alert_url(url, serving_others=serving_others())
            ready = True
        except LookoutError as exc:
            st.error(str(exc))
    st.button("Add this address", disabled=not ready, on_click=_add_alert, args=(ws,))
    if urls and st.button("Send a test alert"):
        with st.spinner("Sending a test alert to each address..."):
            answers = send_test_alert(ws)
        for answer in answers:
            (st.success if answer.received else st.error)(f"{answer.destination}: {answer.words}")


@_noted
def _add_alert(ws) -> str:
    url = check_alert_url(st.session_state["alert-url"], serving_others=serving_others())
    add_alert_url(ws, url)
    st.session_state["alert-url"] = ""
    return f"Alerts now also go to {shown_alert_url(url)}."


@_noted
def _remove_alert(ws, key: str, shown: str) -> str:
    remove_alert_url(ws, key)
    return f"Alerts no longer go to {shown}."
