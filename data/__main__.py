"""python -m data import|capture|label|undo|export|check: the workspace from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from data.atomic import write_atomically
from data.capture import capture_frames
from data.cli import (
    add_workspace_flags,
    command_parser,
    parse_and_open,
    print_progress,
    run,
)
from data.errors import LookoutError
from data.frames import stored_images
from data.importer import import_folder, plan_import
from data.labels import label_counts, set_label, undo
from data.mapping_csv import format_mapping_csv, mapping_rows


def build_parser():
    parser, commands = command_parser("python -m data", "Lookout's workspace: frames, labels and the mapping CSV.")
    p = commands.add_parser("import", help="import a folder of images and its mapping CSV (Image_ID,Class)")
    p.add_argument("folder", type=Path)
    p.add_argument("--csv", type=Path, help="mapping CSV (default: FOLDER/mapping_trump.csv if present)")
    p = commands.add_parser("capture", help="sample frames from videos into the workspace, unlabeled")
    p.add_argument("videos", type=Path, nargs="+", metavar="VIDEO")
    p.add_argument("--fps", type=float, help="frames per second (default: sampling.fps in project.toml)")
    p = commands.add_parser("label", help="label a frame by its Image_ID")
    p.add_argument("image_id")
    p.add_argument("label", type=int, metavar="CLASS")
    p = commands.add_parser("undo", help="undo the last label actions")
    p.add_argument("--steps", type=int, default=1)
    p = commands.add_parser("export", help="write the mapping CSV (Image_ID,Class) of every labeled frame")
    p.add_argument("--out", type=Path, help="file to write (default: print to the screen)")
    p = commands.add_parser("check", help="report on the workspace as an import would")
    p.add_argument("--full", action="store_true", help="read every frame again, not only new or changed files")
    add_workspace_flags(commands)
    return parser


def main(argv=None) -> int:
    args, ws = parse_and_open(build_parser(), argv)
    if args.command == "import":
        report = import_folder(ws, args.folder, args.csv, progress=print_progress)
        print(report.summary())
    elif args.command == "capture":
        for video in args.videos:
            print(capture_frames(ws, video, fps=args.fps).summary())
    elif args.command == "label":
        row = ws.db.execute("SELECT id FROM frames WHERE file_name = ?", (args.image_id,)).fetchone()
        if row is None:
            raise LookoutError(f"No frame named {args.image_id!r} in {ws.frames_dir}; see the mapping CSV for names.")
        set_label(ws, row["id"], args.label)
        print(f"{args.image_id}: {ws.config.classes[args.label]}")
    elif args.command == "undo":
        done = undo(ws, steps=args.steps)
        print(f"undid {len(done)} action(s), {sum(a.frames for a in done)} label(s)" if done else "nothing to undo")
    elif args.command == "export":
        content = format_mapping_csv(mapping_rows(ws.db))
        if args.out:
            if args.out.is_dir() or not args.out.parent.is_dir():
                raise LookoutError(f"--out {args.out}: give a file in a folder that exists "
                                   f"({'that is a folder' if args.out.is_dir() else 'no folder ' + str(args.out.parent)}).")
            write_atomically(args.out, content)
            print(f"wrote {len(content.splitlines()) - 1} labels to {args.out}")
        else:
            sys.stdout.write(content.decode("utf-8"))
    elif args.command == "check":
        known = None if args.full else stored_images(ws.db)
        print(plan_import(ws.frames_dir, ws.mapping_csv, class_names=ws.config.classes, known=known).report.summary())
        flags = ws.db.execute("SELECT COUNT(*) FROM review_flags WHERE resolved_at IS NULL").fetchone()[0]
        print(f"Open review flags: {flags}")
        print("Workspace: " + ", ".join(f"{k} {v}" for k, v in label_counts(ws).items()))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
