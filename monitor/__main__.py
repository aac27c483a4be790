"""python -m monitor score|capture|run-once|watch: watch TikTok for the project's targets."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from data.capture import capture_frames
from data.cli import add_cluster_flag, add_workspace_flags, command_parser, parse_and_open, run
from data.errors import LookoutError
from data.video import open_video
from monitor.cycle import run_once, watch
from monitor.download import fetch_url
from monitor.scoring import in_order, score_video
from trainer.predict import backbone_for
from trainer.registry import load_model


def parse_every(text: str) -> float:
    """'90s', '10m', '1h' -> seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise LookoutError(f"--every {text!r}: give a duration like 30s, 10m or 1h.")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def videos_to_score(ws, items: list[str]) -> list[tuple[Path, int | None]]:
    """Files as given; URLs downloaded first, with what the page says about them."""
    found = []
    for item in items:
        if re.match(r"https?://", item):
            found.extend(fetch_url(ws, item, source="score"))
        else:
            found.append((Path(item), None))
    return found


def build_parser():
    parser, commands = command_parser("python -m monitor", "Score TikTok videos and alert when a target appears.")
    p = commands.add_parser("score", help="score video files or URLs with the active model (or --model)")
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="a video file, or a TikTok (or any yt-dlp) URL")
    p.add_argument("--model", default="active", help="'active', a version, or a .h5 file")
    p.add_argument("--json", action="store_true", help="one JSON object per video")
    p = commands.add_parser("capture", help="download videos by URL and capture their frames for labeling")
    p.add_argument("urls", nargs="+", metavar="URL")
    p = commands.add_parser("run-once", help="one monitor cycle (for cron or a systemd timer)")
    p.add_argument("--dry-run", action="store_true", help="print alerts instead of sending them")
    p = commands.add_parser("watch", help="run cycles continuously")
    p.add_argument("--every", default="10m", help="time between cycles, e.g. 10m (default)")
    p.add_argument("--dry-run", action="store_true", help="print alerts instead of sending them")
    add_workspace_flags(commands)
    add_cluster_flag(*(commands.choices[name] for name in ("score", "run-once", "watch")))
    return parser


def main(argv=None) -> int:
    args, ws = parse_and_open(build_parser(), argv)
    log = lambda line: print(line, flush=True)  # noqa: E731
    if args.command == "score":
        for item in args.videos:
            if not re.match(r"https?://", item):
                open_video(Path(item))  # a missing or unreadable file: one line, before any slow work
        model = load_model(ws, args.model)
        backbone = backbone_for(ws, model)
        thresholds = model.thresholds(ws.config.frame_rule)

        def scored(item: tuple[Path, int | None]):
            return item[0], score_video(ws, model, backbone, item[0], video_id=item[1])

        for video, score in in_order(backbone, scored, videos_to_score(ws, args.videos)):
            if args.json:
                print(json.dumps(score.to_json()))
                continue
            print(f"{video}:")
            for verdict in score.verdicts:
                best_time = score.times[verdict.best_index] if verdict.best_index >= 0 else 0.0
                print(score.frame_calls(verdict.target, thresholds[verdict.target - 1]))
                state = "is in this video" if verdict.positive else "is not in this video"
                print(f"{verdict.name} {state}: {verdict.positive_frames} of {verdict.sampled_frames} frames "
                      f"({verdict.ratio:.0%}); best frame at {best_time:.1f} s")
    elif args.command == "capture":
        for url in args.urls:
            for video, _ in fetch_url(ws, url, source="capture"):
                print(capture_frames(ws, video).summary())
    elif args.command == "run-once":
        report = run_once(ws, dry_run=args.dry_run, log=log)
        for source, errors in report.source_errors.items():
            log(f"source {source} failed: {'; '.join(errors)}")
        log(f"{report.scored} scored, {report.detections} detections, {report.alerts_sent} alerts sent, "
            f"{report.alerts_pending} pending")
    elif args.command == "watch":
        watch(ws, every_s=parse_every(args.every), dry_run=args.dry_run, log=log)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
