"""python -m trainer train|features|evaluate|predict|compare|activate|export|list|remove: models from the command line."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from data.atomic import write_atomically
from data.cli import (
    add_cluster_flag,
    add_workspace_flags,
    command_parser,
    parse_and_open,
    print_progress,
    run,
)
from data.errors import LookoutError
from data.frames import frame_count
from data.images import load_rgb
from data.mapping_csv import read_mapping_csv
from data.workspace import Workspace
from trainer.compare import activate_checked, compare_versions, default_versions, format_comparison
from trainer.evaluate import evaluate, format_metrics
from trainer.predict import backbone_for, predict_images
from trainer.registry import active_version, download_name, export_h5, list_models, load_model, remove, size_in_words
from trainer.train import extract_features, train_model


def build_parser():
    parser, commands = command_parser("python -m trainer", "Train, evaluate and activate Lookout's models.")
    p = commands.add_parser("train", help="train a new model version on every labeled frame")
    p.add_argument("--backbone", choices=("vgg16", "face"), help="default: backbone in project.toml")
    p.add_argument("--epochs", type=int, help="at most this many (default: 10 for vgg16, 100 for face)")
    p.add_argument("--augment", type=int, metavar="N", help="augmented copies per training frame")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--activate", action="store_true",
                   help="make the new model the one the monitor uses, unless it is worse than the active one")
    p.add_argument("--force", action="store_true", help="with --activate: even when it is worse")
    p = commands.add_parser("evaluate", help="print a model's validation metrics, or measure them on a labeled folder")
    p.add_argument("model", metavar="MODEL", help="'active', a version, or a .h5 file")
    p.add_argument("--csv", type=Path, help="mapping CSV (Image_ID,Class) to evaluate on")
    p.add_argument("--images", type=Path, help="folder of the CSV's images (default: the CSV's folder)")
    p.add_argument("--json", action="store_true")
    p = commands.add_parser("predict", help="class and probability for each image")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true")
    p = commands.add_parser("compare", help="versions scored on the same test frames, with 95%% intervals")
    p.add_argument("versions", nargs="*", metavar="VERSION", help="default: the active version and the newest other")
    p.add_argument("--json", action="store_true")
    p = commands.add_parser("activate", help="make a model version the one the monitor uses")
    p.add_argument("version")
    p.add_argument("--force", action="store_true", help="activate even when it is worse than the active one")
    p = commands.add_parser("export", help="write a version's .h5, with its card inside, for another machine")
    p.add_argument("version", help="'active' or a version")
    p.add_argument("--out", type=Path, help="default: <project>-<targets>-<version>.h5 in this folder")
    commands.add_parser("list", help="model versions and their validation F1")
    p = commands.add_parser("remove", help="delete versions the monitor does not use, to free disk space")
    p.add_argument("versions", nargs="+", metavar="VERSION")
    p = commands.add_parser("features", help="compute every frame's features now (on a Ray cluster with --ray)")
    p.add_argument("--backbone", choices=("vgg16", "face"), help="default: the active model's, else project.toml's")
    add_workspace_flags(commands)
    add_cluster_flag(commands.choices["train"], commands.choices["features"])
    for name in ("evaluate", "predict"):
        commands.choices[name].add_argument(
            "--trust-code", action="store_true", help="load a model with Lambda layers (runs its code)"
        )
    return parser


def main(argv=None) -> int:
    args, ws = parse_and_open(build_parser(), argv)
    if args.command == "train":
        result = train_model(
            ws, backbone=args.backbone, epochs=args.epochs, augment_copies=args.augment, seed=args.seed,
            progress=print_progress,
        )
        for name, reason in result.skipped:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        print(f"Model {result.version} ({result.card.backbone}), {result.features_computed} features computed")
        print(format_metrics(result.card.validation))
        print(f"Validation figures: {result.card.split['reliability']}")
        if args.activate:
            activate_checked(ws, result.version, force=args.force)
            print(f"{result.version} is now active")
    elif args.command == "features":
        computed, failed = extract_features(ws, args.backbone, progress=print_progress)
        for name, reason in failed:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        print(f"{computed} features computed, {frame_count(ws.db) - computed - len(failed)} already cached")
    elif args.command == "evaluate":
        model = load_model(ws, args.model, trust_code=args.trust_code)
        metrics = model.card.validation
        if args.csv:
            metrics = evaluate_folder(ws, model, args.csv, args.images or args.csv.parent)
        elif metrics is None:
            raise LookoutError(f"{model.path} has no stored metrics; give --csv FILE --images DIR to measure them.")
        print(json.dumps(metrics, indent=2) if args.json else format_metrics(metrics))
    elif args.command == "predict":
        model = load_model(ws, args.model, trust_code=args.trust_code)
        probs = predict_images(model, backbone_for(ws, model), [load_rgb(p) for p in args.images])
        rows = [
            {"image": str(p), "class": model.classes[int(row.argmax())], "probability": round(float(row.max()), 4),
             "probabilities": {c: round(float(v), 4) for c, v in zip(model.classes, row)}}
            for p, row in zip(args.images, probs)
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['image']}: {row['class']} ({row['probability']:.2f})")
    elif args.command == "compare":
        comparison = compare_versions(ws, args.versions or default_versions(ws), progress=print_progress)
        print(json.dumps(asdict(comparison), indent=2) if args.json else format_comparison(comparison))
    elif args.command == "activate":
        activate_checked(ws, args.version, force=args.force)
        print(f"{args.version} is now active")
    elif args.command == "export":
        version = active_version(ws) if args.version == "active" else args.version
        if version is None:
            raise LookoutError("No model is active yet; name a version (python -m trainer list).")
        out = args.out or Path(download_name(ws.config.name, ws.config.classes[1:], version))
        content = export_h5(ws, version)
        try:
            write_atomically(out, content)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
            raise LookoutError(f"Cannot write {out} ({exc.strerror}); give --out a file name in a folder that exists "
                               "and that you can write to.") from None
        print(f"Wrote {out}: copy it to the other machine and give it to `python -m monitor score --model {out.name}`")
    elif args.command == "remove":
        for version in args.versions:
            print(f"Removed {version}: {size_in_words(remove(ws, version))} freed")
    elif args.command == "list":
        active = active_version(ws)
        if not list_models(ws):
            print("No model yet: label frames of each class, then `python -m trainer train`.")
        for card in list_models(ws):
            f1 = {name: m["f1"] for name, m in card.validation["per_class"].items() if name != card.classes[0]}
            mark = "*" if card.version == active else " "
            print(f"{mark} {card.version}  {card.backbone:<6} F1 " + ", ".join(f"{k} {v:.3f}" for k, v in f1.items()))
    return 0


def evaluate_folder(ws: Workspace, model, csv: Path, images: Path) -> dict:
    rows = read_mapping_csv(csv, class_names=model.classes)
    backbone = backbone_for(ws, model)
    kept, pictures = [], []
    for row in rows:
        try:
            pictures.append(load_rgb(images / row.image_id))
            kept.append(row.label)
        except (LookoutError, FileNotFoundError) as exc:
            print(f"skipped {row.image_id}: {exc}", file=sys.stderr)
    probs = predict_images(model, backbone, pictures)
    return evaluate(np.array(kept), probs, class_names=model.classes, thresholds=model.thresholds(ws.config.frame_rule))


if __name__ == "__main__":
    sys.exit(run(main))
