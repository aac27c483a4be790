"""python -m labeler queue|judge|similar: the review queue, video judgements and look-alike frames."""

from __future__ import annotations

import json
import sys

from data.cli import add_cluster_flag, add_workspace_flags, command_parser, parse_and_open, run
from data.workspace import Workspace
from labeler.judgements import find_video, judge_video
from labeler.queue import STRATEGIES, STRATEGY_NAMES, build_queue


def build_parser():
    parser, commands = command_parser("python -m labeler", "What to label next, and whole-video judgements.")
    p = commands.add_parser("queue", help="the frames most worth a look, with the reason for each")
    p.add_argument("--strategy", default="mixed", choices=("mixed", *STRATEGIES))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p = commands.add_parser("judge", help="mark a whole video: the target is present or absent")
    p.add_argument("video", help="video id, URL or file")
    p.add_argument("verdict", choices=("absent", "present"))
    p.add_argument("--target", type=int, default=1, help="target class number (default 1)")
    p = commands.add_parser("similar", help="the frames most like a frame, by the backbone's features (faces: by face)")
    p.add_argument("frame", help="frame id or file name")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    add_workspace_flags(commands)
    add_cluster_flag(commands.choices["queue"])
    return parser


def active_model_and_backbone(ws: Workspace):
    """The active model and its backbone, or (None, None) before any model is active."""
    from trainer.predict import backbone_for
    from trainer.registry import active_version, load_model

    if active_version(ws) is None:
        return None, None
    model = load_model(ws, "active")
    return model, backbone_for(ws, model)


def search_backbone(ws: Workspace):
    """The active model's backbone, or the project's before any model is active."""
    from trainer.predict import project_backbone

    _, backbone = active_model_and_backbone(ws)
    return backbone or project_backbone(ws)


def print_similar(ws: Workspace, frame: str, limit: int, as_json: bool) -> None:
    from data.cli import print_progress
    from labeler.similar import similar_frames

    found, index = similar_frames(ws, search_backbone(ws), frame, limit=limit, progress=print_progress)
    if as_json:
        print(json.dumps([n.to_json() for n in found], indent=2))
        return
    names = ws.config.classes
    for n in found:
        label = names[n.label] if n.label is not None else "unlabeled"
        print(f"{n.distance:7.3f}  {n.file_name}  [{label}]")
    if index.unindexed:
        print(f"({index.unindexed} frames could not be read and were not searched.)", file=sys.stderr)


def main(argv=None) -> int:
    args, ws = parse_and_open(build_parser(), argv)
    if args.command == "queue":
        model, backbone = active_model_and_backbone(ws)
        items = build_queue(ws, strategy=args.strategy, limit=args.limit, model=model, backbone=backbone)
        if args.json:
            print(json.dumps([item.to_json() for item in items], indent=2))
        elif not items:
            print("Nothing to review: every frame is labeled, or none is in the workspace yet (python -m data import).")
        for item in [] if args.json else items:
            more = f" (+{len(item.duplicates)} near-identical)" if item.duplicates else ""
            print(f"{item.file_name}{more}  [{STRATEGY_NAMES[item.strategy]}]  {item.reason}")
    elif args.command == "judge":
        video_id = find_video(ws, args.video)
        labeled = judge_video(ws, video_id, present=args.verdict == "present", target=args.target)
        relabeled = f"; {labeled} frames labeled {ws.config.classes[0]}" if labeled else ""
        print(f"video {video_id}: {ws.config.classes[args.target]} {args.verdict}{relabeled}")
    elif args.command == "similar":
        print_similar(ws, args.frame, args.limit, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
