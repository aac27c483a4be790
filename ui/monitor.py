"""Monitor page: recent verdicts, alerts, source health; score a video or run a cycle now."""

import json

import pandas as pd
import streamlit as st

from data import LookoutError
from monitor.cycle import run_once
from monitor.scoring import score_video
from ui.workspace import active_model, current_workspace, jobs


def score_ui(ws, model, backbone) -> None:
    upload = st.file_uploader("Score one video now", type=["mp4", "mov", "webm", "mkv"])
    if upload is None or not st.button("Score it"):
        return
    path = ws.videos_dir / upload.name
    path.write_bytes(upload.getvalue())
    try:
        with st.spinner("Scoring..."):
            score = score_video(ws, model, backbone, path)
    except LookoutError as exc:
        st.error(str(exc))
        return
    for verdict in score.verdicts:
        state = "is in this video" if verdict.positive else "is not in this video"
        st.write(f"**{verdict.name} {state}**: {verdict.positive_frames} of {verdict.sampled_frames} frames ({verdict.ratio:.0%})")
    timeline = pd.DataFrame([p[1:] for p in score.probs], index=score.times, columns=list(model.classes[1:]))
    st.line_chart(timeline)


def cycle_ui(ws) -> None:
    key = f"monitor:{ws.root}"
    if st.button("Run one monitor cycle now"):
        jobs().start(key, lambda job: run_once(ws, log=lambda line: job.progress(line, 0, 0)))
    job = jobs().get(key)
    if job is None:
        return
    if not job.finished:
        st.info(f"Cycle running: {job.stage}")
    elif job.error:
        st.error(job.error)
    else:
        report = job.result
        st.success(f"Cycle done: {report.scored} scored, {report.detections} detections, {report.alerts_sent} alerts sent.")


def page() -> None:
    ws = current_workspace()
    st.title("Monitor")
    try:
        model, backbone = active_model(ws)
    except LookoutError as exc:
        st.error(str(exc))
        return
    if model is None:
        st.info("No active model yet: train one and activate it on the Train page.")
        return
    st.caption(f"Active model: {model.version} ({model.card['backbone']})")
    scores = ws.db.execute(
        """SELECT v.id, COALESCE(v.url, v.path) AS video, v.author, s.model_version, s.scored_at, s.verdicts_json
           FROM video_scores s JOIN videos v ON v.id = s.video_id ORDER BY s.scored_at DESC LIMIT 50"""
    ).fetchall()
    if scores:
        st.subheader("Recent videos")
        rows = []
        for r in scores:
            verdicts = json.loads(r["verdicts_json"])
            rows.append({"video": r["video"], "author": r["author"], "model": r["model_version"],
                         **{v["name"]: f"{'YES' if v['positive'] else 'no'} ({v['ratio']:.0%})" for v in verdicts}})
        st.dataframe(pd.DataFrame(rows), width="stretch")
    alerts = pd.read_sql_query("SELECT video_id, target, model_version, status, attempts, last_error, sent_at FROM alerts ORDER BY id DESC LIMIT 50", ws.db)
    if len(alerts):
        st.subheader("Alerts")
        st.dataframe(alerts, width="stretch")
    health = pd.read_sql_query("SELECT * FROM source_health", ws.db)
    if len(health):
        st.subheader("Sources")
        st.dataframe(health, width="stretch")
    score_ui(ws, model, backbone)
    cycle_ui(ws)
