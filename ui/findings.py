"""Monitor page, findings part: the videos where a target was found, to follow up and cite."""

import re
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from monitor.findings import best_frames, findings, findings_csv
from ui.faces import which_face_ui
from ui.when import human_time

SHOWN = 20  # findings drawn with their frames; the table and the CSV hold them all
MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def as_plain_text(text: str) -> str:
    """Text from a video's poster, shown in a label (which renders markdown) as the characters it is."""
    return MARKDOWN.sub(r"\\\1", text)


def findings_ui(ws) -> None:
    st.subheader("Findings")
    targets = ["every target", *ws.config.classes[1:]]
    left, right = st.columns(2)
    target = left.selectbox("Target", targets, key="findings-target")
    since = right.date_input("Found since", value=date.today() - timedelta(days=30), key="findings-since")
    found = findings(ws, target=None if target == targets[0] else target, since=since.isoformat() if since else "")
    if not found:
        st.caption("No video where a target was found in this period yet.")
        return
    st.dataframe(pd.DataFrame([{  # a file's name is no link: as one it opened the app itself in a new tab
        "target": f.target, "video": f.link if "://" in f.link else None, "file": "" if "://" in f.link else f.link,
        "author": f.author, "caption": f.caption,
        "found": human_time(f.found_at), "frames with the target": f"{f.positive_frames} of {f.sampled_frames}",
        "share": f"{f.share:.0%}",
    } for f in found]), hide_index=True, width="stretch",
        column_config={"video": st.column_config.LinkColumn("video")})
    st.download_button("Download these findings (CSV)", findings_csv(found),
                       file_name=f"lookout-findings-{date.today().isoformat()}.csv", mime="text/csv")
    for finding in found[:SHOWN]:
        frames = best_frames(ws, finding)
        with st.expander(f"{finding.target} in {as_plain_text(finding.link)} ({finding.share:.0%} of frames, "
                         f"found {human_time(finding.found_at)})"):
            if finding.author or finding.caption:  # as text: a caption's markdown or HTML made the browser fetch URLs
                st.text(" · ".join(x for x in (finding.author, finding.caption) if x))
            if not frames:
                st.caption("The monitor kept none of its frames.")
            for i, (column, (path, probability)) in enumerate(zip(st.columns(3), frames)):
                column.image(str(path), caption=f"{finding.target} {probability:.2f}")
                which_face_ui(ws, path, key=f"finding-faces-{finding.video_id}-{i}", where=column)
