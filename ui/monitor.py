"""Monitor page: recent verdicts with each video's frames and scores, alerts, source health;
score a video or run a cycle now."""

import json
from pathlib import Path

import cv2
import pandas as pd
import streamlit as st

from data import LookoutError
from data.alert_records import deliveries, recent_alerts
from data.monitor_records import predictions_of, recent_scores, source_health
from data.uploads import save_upload
from data.video import sample_video
from monitor.alerts import MAX_UNKNOWN_ATTEMPTS, address_in_words
from monitor.cycle import ACTIVE_MODEL, run_once
from monitor.download import VIDEO_SUFFIXES, fetch_url
from monitor.scoring import score_video
from monitor.source_errors import plain_error, source_advice
from monitor.source_kinds import source_in_words
from ui.findings import findings_ui
from ui.grid import GRID_COLUMNS
from ui.monitor_setup import setup_ui
from ui.progress import job_ui, start_job
from ui.similar import more_like_this_button, similar_ui
from ui.when import human_time, version_name
from ui.words import counted
from ui.workspace import active_card, active_model, current_workspace

THUMBNAIL_WIDTH = 240


def recent_videos(ws) -> list[dict]:
    rows = recent_scores(ws.db)
    return [r | {"video": r["url"] or Path(r["path"]).name, "verdicts": json.loads(r["verdicts_json"])}
            for r in rows]


def verdicts_table(videos: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([
        {"video": v["video"], "author": v["author"] or "", "model": version_name(v["model_version"]),
         **{x["name"]: f"{'YES' if x['positive'] else 'no'} ({x['ratio']:.0%})" for x in v["verdicts"]}}
        for v in videos
    ])


@st.cache_data(max_entries=4, show_spinner="Reading the video's frames...")
def video_frames(path: str, fps: float) -> dict[float, object]:
    """Thumbnails of a video's sampled frames the monitor did not keep (clear negatives), read again."""
    thumbnails = {}
    for frame in sample_video(Path(path), fps=fps):
        height, width = frame.rgb.shape[:2]
        scale = THUMBNAIL_WIDTH / width
        thumbnails[frame.timestamp_s] = cv2.resize(frame.rgb, (THUMBNAIL_WIDTH, max(1, round(height * scale))))
    return thumbnails


def timeline_ui(ws, video: dict) -> None:
    """The video's per-frame scores as a chart, and the frames themselves with their scores."""
    rows = predictions_of(ws.db, video["id"], video["model_version"])
    if not rows:
        return
    targets = [v["name"] for v in video["verdicts"]]
    probs = [json.loads(r["probs_json"])[1:] for r in rows]
    st.line_chart(pd.DataFrame(probs, index=[r["timestamp_s"] for r in rows], columns=targets),
                  x_label="seconds", y_label="probability")
    stored = all(r["file_name"] for r in rows)
    if not stored and not Path(video["path"]).is_file():
        st.caption("The monitor kept no frames of this clear negative, and its file is gone.")
        return
    decoded = {} if stored else video_frames(video["path"], ws.config.fps)
    columns = st.columns(GRID_COLUMNS)
    for i, (row, p) in enumerate(zip(rows, probs)):
        image = str(ws.frames_dir / row["file_name"]) if row["file_name"] else decoded.get(row["timestamp_s"])
        if image is None:
            continue
        same = f" ×{row['represents']}" if row["represents"] > 1 else ""
        caption = f"{row['timestamp_s']:.0f} s{same} · " + ", ".join(f"{n} {q:.2f}" for n, q in zip(targets, p))
        columns[i % GRID_COLUMNS].image(image, caption=caption)
        if row["frame_id"] is not None:
            more_like_this_button(columns[i % GRID_COLUMNS], row["frame_id"], f"monitor-{video['id']}")


def score_request_ui() -> tuple[list, str] | None:
    """Uploaded videos and a URL to score, once the user presses the button."""
    with st.form("score-now", clear_on_submit=True):
        uploads = st.file_uploader("Score videos now", type=[s.lstrip(".") for s in VIDEO_SUFFIXES],
                                   accept_multiple_files=True)
        url = st.text_input("...or a TikTok video URL")
        if st.form_submit_button("Score"):
            if uploads or url.strip():
                return uploads, url.strip()
            st.warning("Choose a video file or paste a URL first.")
    return None


def score_now(ws, model, backbone, videos: list[Path], url: str, job) -> list:
    """Score uploaded files and a URL's videos with the active model, one after another."""
    targets = [(path, None) for path in videos]
    if url:
        job.progress(f"downloading {url}", 0, 0)
        targets += fetch_url(ws, url, source="score", from_page=True)
    scores = []
    for i, (path, video_id) in enumerate(targets):
        job.progress(f"scoring {path.name}", i, len(targets))
        scores.append(score_video(ws, model, backbone, path, video_id=video_id))
    return scores


def describe_scores(scores) -> str:
    return " ".join(
        f"{Path(s.path).name}: {v.name} {'is' if v.positive else 'is not'} in it "
        f"({v.positive_frames} of {v.sampled_frames} frames)."
        for s in scores for v in s.verdicts
    )


def describe_cycle(report) -> tuple[str, str]:
    """(level, words) for a cycle's end: a cycle that fetched nothing is no success."""
    if not report.sources:
        return "warning", ("No sources are set up, so nothing was fetched. Add TikTok accounts, video links or a "
                           "folder under \"Set up\" at the top of this page.")
    failed = "\n".join(_failure(name, "; ".join(errors)) for name, errors in report.source_errors.items())
    scored = (f"{counted(report.scored, 'new video')} scored, {counted(report.detections, 'detection')}"
              if report.scored else "no new videos")
    done = f"{scored}, {counted(report.alerts_sent, 'alert')} sent"
    waiting = (f" {counted(report.alerts_pending, 'alert')} still {'waits' if report.alerts_pending == 1 else 'wait'} "
               "for an address that has not taken it: see Alerts below." if report.alerts_pending else "")
    if failed and len(report.source_errors) == report.sources and not report.scored:
        return "error", f"Every source failed, so nothing was scored:\n{failed}{waiting}"
    if failed:
        return "warning", f"Cycle done: {done}.{waiting} Some videos or sources failed:\n{failed}"
    return ("warning" if waiting else "success"), f"Cycle done: {done}.{waiting}"


def _failure(source: str, error: str) -> str:
    advice = source_advice(error)
    return f"- {source_in_words(source)}: {plain_error(error)[:300]}" + (f"\n\n  **What to do:** {advice}" if advice else "")


def page() -> None:
    ws = current_workspace()
    st.title("Monitor")
    setup_ui(ws)
    try:
        card = active_card(ws)
    except LookoutError as exc:
        st.error(str(exc))
        return
    if card is None:
        st.info("No active model yet: train one and activate it on the Train page.")
        return
    st.caption(f"Active model: {version_name(card.version)}, {card.backbone} backbone")
    similar_ui(ws)
    request = score_request_ui()
    if request:
        uploads, url = request
        paths = [save_upload(u.name, u.getvalue(), ws.videos_dir) for u in uploads]
        try:
            model, backbone = active_model(ws)  # loaded when first needed, not on every visit
        except LookoutError as exc:
            st.error(str(exc))
            return
        start_job(ws, "score", lambda job: score_now(ws, model, backbone, paths, url, job))
    job_ui(ws, "score", "Scoring", describe_scores)
    if st.button("Run one monitor cycle now"):
        start_job(ws, "cycle", lambda job: run_once(ws, log=lambda line: job.progress(line, 0, 0)))
    job_ui(ws, "cycle", "Monitor cycle", describe_cycle)

    findings_ui(ws)
    videos = recent_videos(ws)
    if videos:
        st.subheader("Recent videos")
        st.dataframe(verdicts_table(videos), hide_index=True, width="stretch")
        names = {i: f"{v['video']} ({v['model_version']})" for i, v in enumerate(videos)}
        chosen = st.selectbox("Frames and scores of", list(names), format_func=names.get)
        timeline_ui(ws, videos[chosen])
    alerts = recent_alerts(ws.db)
    if alerts:
        st.subheader("Alerts")
        st.dataframe(alerts_table(ws, alerts), hide_index=True, width="stretch")
    health = [h for h in source_health(ws.db) if h["source"] != ACTIVE_MODEL]  # the model's problems show above
    if health:
        st.subheader("Sources")
        st.dataframe(sources_table(health), hide_index=True, width="stretch")


def alerts_table(ws, alerts) -> pd.DataFrame:
    classes = ws.config.classes
    tried = deliveries(ws.db, [a["id"] for a in alerts])
    rows = []
    for a in alerts:
        addresses = tried.get(a["id"], [])
        reached = [address_in_words(d["endpoint"]) for d in addresses if d["delivered"]]
        rows.append({
            "video": a["video"] if "://" in a["video"] else Path(a["video"]).name,
            "target": classes[a["target"]] if a["target"] < len(classes) else a["target"],
            "status": alert_status(a["status"], len(reached), len(addresses)),
            "delivered to": ", ".join(reached),
            "not delivered to": "; ".join(f"{address_in_words(d['endpoint'])}: {not_delivered(d)}"
                                          for d in addresses if not d["delivered"]),
            "tries": a["attempts"], "done": human_time(a["sent_at"]) if a["sent_at"] else "",
        })
    return pd.DataFrame(rows)


def alert_status(status: str, reached: int, tried: int) -> str:
    if status == "sent":
        return "sent to every address"
    if status == "unknown":
        return f"sent to {reached} of {tried} addresses; the others never answered in time (it may have arrived)"
    if reached:
        return f"sent to {reached} of {tried} addresses; the others are tried again next cycle"
    return "not sent yet: no address has it; tried again next cycle"


def not_delivered(delivery) -> str:
    if delivery["unknown"] >= MAX_UNKNOWN_ATTEMPTS:
        return f"gave up after {delivery['unknown']} tries with no answer in time (it may have arrived)"
    return f"failing ({delivery['last_error'] or 'no answer yet'})"


def sources_table(health) -> pd.DataFrame:
    return pd.DataFrame([{
        "source": source_in_words(h["source"]), "last fetched": human_time(h["last_success"]) if h["last_success"] else "never",
        "failed in a row": h["consecutive_failures"],
        "last problem": f"{plain_error(h['last_error'])}. {source_advice(h['last_error'])}".strip()
        if h["consecutive_failures"]
        else "",
    } for h in health])
