"""The Label page's frame and keyboard: every key press, with the frame on screen when it was pressed.

Streamlit merges button presses that arrive faster than the page reruns, so a fast
labeler lost presses without a sign, and a press could reach the server after it had
moved on to a frame the browser had not drawn yet. This small component draws the
frame itself and tags each key press with the frame it shows at that moment (switched
only once the new picture has loaded); its list of presses only grows, so however
presses are batched on their way to the server, none is lost, and each is applied in
order.
"""

from __future__ import annotations

import base64
from pathlib import Path

import streamlit as st

_HTML = '<figure class="frame"><img alt=""><figcaption></figcaption></figure>'
_CSS = ".frame { margin: 0; } .frame img { width: 360px; display: block; } figcaption { font-size: 0.85rem; opacity: 0.7; }"
_JS = r"""
export default function(component) {
  const { data, setStateValue, parentElement } = component;
  const s = window.__lookoutKeys = window.__lookoutKeys || {
    session: Math.random().toString(36).slice(2), presses: [], seq: 0,
  };
  const img = parentElement.querySelector("img");
  const caption = parentElement.querySelector("figcaption");
  s.img = img;  // the newest drawing of the frame; a press is tagged with what it shows
  s.keys = data.keys;
  s.handled = (data.handled || {})[s.session] || 0;
  if (data.frame === null) {
    delete img.dataset.frame;
    img.removeAttribute("src");
    caption.textContent = "";
  } else if (img.dataset.frame !== String(data.frame)) {
    const next = new Image();
    next.onload = () => {  // the new frame counts as shown once it is drawn, with its caption
      img.src = next.src;
      img.dataset.frame = String(data.frame);
      caption.textContent = data.caption;
    };
    next.src = data.src;
  }
  s.sends = s.sends || 0;
  s.send = () => setStateValue("presses", { session: s.session, presses: s.presses.slice(-200), send: ++s.sends });
  if (!s.listening) {
    s.listening = true;
    // The keys are the Label page's only while it is open (the component itself is briefly
    // unmounted while the page redraws, and a press then must still count).
    const onLabelPage = () => window.location.pathname.replace(/\/$/, "").endsWith("/label");
    // A value that reaches the server while it reruns can be dropped: until the page says it
    // handled the newest press, send the list again.
    setInterval(() => { if (onLabelPage() && s.seq > s.handled) s.send(); }, 1000);
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      const typing = target && (target.tagName === "TEXTAREA" || target.isContentEditable ||
        (target.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(target.type)));
      if (typing) return;  // a key typed into a text box is text; after clicking a switch it is a label
      if (!onLabelPage() || event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
      if (!s.keys.includes(event.key)) return;
      s.seq += 1;
      // What is on screen, read at the press: a drawing that was replaced or not loaded yet shows nothing.
      const shown = s.img && s.img.isConnected && s.img.dataset.frame ? Number(s.img.dataset.frame) : null;
      s.presses.push({ seq: s.seq, frame: shown, key: event.key });
      s.send();
    });
  }
}
"""

_component = st.components.v2.component("lookout_label_frame", html=_HTML, css=_CSS, js=_JS)


def new_presses(key: str) -> list[dict]:
    """Presses not handled yet, oldest first: [{"frame": id or None, "key": "0"}, ...]."""
    value = st.session_state.get(key) or {}
    state = value.get("presses") if isinstance(value, dict) else getattr(value, "presses", None)
    if not state:
        return []
    handled = st.session_state.setdefault("handled_presses", {})
    last = handled.get(state["session"], 0)
    fresh = [p for p in state["presses"] if p["seq"] > last]
    if fresh:
        handled[state["session"]] = fresh[-1]["seq"]
    return fresh


def frame_and_keys(*, key: str, frame: int | None, image: Path | None, caption: str, keys: list[str], on_press) -> None:
    """Show `image` (frame `frame`) and listen for `keys`; on_press() runs before the next rerun."""
    src = f"data:image/jpeg;base64,{base64.b64encode(image.read_bytes()).decode()}" if image else None
    data = {"frame": frame, "src": src, "caption": caption, "keys": keys,
            "handled": st.session_state.get("handled_presses", {})}
    _component(key=key, data=data, on_presses_change=on_press)
