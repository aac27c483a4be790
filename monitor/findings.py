"""What a journalist follows up after an alert: the videos where a target was found, with what
to cite (link, author, caption, when) and how sure (share of frames, best frames), and a CSV
of them for a story."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from data.mapping_csv import neutralise_formula
from data.monitor_records import latest_scores, predictions_of
from data.workspace import Workspace

CSV_COLUMNS = ("target", "link", "author", "caption", "uploaded", "found_at", "frames_with_target", "frames_sampled",
               "share", "model_version")


@dataclass(frozen=True)
class Finding:
    video_id: int
    target: str
    link: str  # the video's web address, or its file name for a video scored from a file
    author: str
    caption: str
    uploaded: str
    found_at: str  # when the monitor scored it (ISO, UTC)
    positive_frames: int
    sampled_frames: int
    model_version: str

    @property
    def share(self) -> float:
        return self.positive_frames / self.sampled_frames if self.sampled_frames else 0.0


def findings(ws: Workspace, *, target: str | None = None, since: str = "") -> list[Finding]:
    """Videos whose latest score finds a target (one row per video and target), newest first.
    target: a class name, or None for all; since: an ISO date or time."""
    found = []
    for row in latest_scores(ws.db, since=since):
        for verdict in json.loads(row["verdicts_json"]):
            if verdict["positive"] and target in (None, verdict["name"]):
                found.append(Finding(
                    row["id"], verdict["name"], row["url"] or Path(row["path"]).name, row["author"] or "",
                    row["caption"] or "", row["uploaded_at"] or "", row["scored_at"], verdict["positive_frames"],
                    verdict["sampled_frames"], row["model_version"],
                ))
    return found


def best_frames(ws: Workspace, finding: Finding, *, n: int = 3) -> list[tuple[Path, float]]:
    """The kept frames that show the target most surely, with their probability."""
    target = ws.config.classes.index(finding.target) if finding.target in ws.config.classes else None
    if target is None:
        return []
    kept = [(ws.frames_dir / r["file_name"], json.loads(r["probs_json"])[target])
            for r in predictions_of(ws.db, finding.video_id, finding.model_version) if r["file_name"]]
    return sorted(kept, key=lambda frame: -frame[1])[:n]


def findings_csv(found: list[Finding]) -> bytes:
    """The findings as a spreadsheet opens them: a caption or author starting with =, +, - or @ is
    quoted, so it is shown and never run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in found:
        cells = (f.target, f.link, f.author, f.caption, f.uploaded, f.found_at, f.positive_frames, f.sampled_frames,
                 f"{f.share:.2f}", f.model_version)
        writer.writerow(neutralise_formula(c) if isinstance(c, str) else c for c in cells)
    return out.getvalue().encode("utf-8")
