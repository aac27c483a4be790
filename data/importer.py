"""Import a folder of images and a tutorial-format mapping CSV into the workspace.

Import runs in two steps: `plan_import` reads and checks everything and writes
nothing; `apply_import` stores the frames and labels in one transaction. A CSV
with any bad row refuses the whole import; an unreadable image is skipped and
reported. Re-importing the same folder adds nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from data.errors import LookoutError
from data.frames import FrameStore, NewFrame, frames_by_sha
from data.images import IMAGE_SUFFIXES, CheckedImage, check_image
from data.labels import record_labels
from data.mapping_csv import read_mapping_csv, write_mapping_csv
from data.schema import now, transaction
from data.scratch import scratch_dir
from data.uploads import unpack_zip
from data.workspace import MAPPING_CSV, Workspace

Progress = Callable[[str, int, int], None]
STORED_ITEMS = 1000  # per list of the stored import report


@dataclass
class ImportReport:
    folder: str
    csv: str | None
    rows: int = 0
    image_files: int = 0
    distinct_images: int = 0
    new_frames: int = 0
    labeled: dict[str, int] = field(default_factory=dict)  # class name -> distinct images
    unlabeled_images: list[str] = field(default_factory=list)
    duplicate_rows: list[str] = field(default_factory=list)
    conflicting_rows: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    same_content: list[list[str]] = field(default_factory=list)
    unreadable: list[list[str]] = field(default_factory=list)  # [file, reason]
    kept_existing_labels: list[str] = field(default_factory=list)
    omitted: dict[str, int] = field(default_factory=dict)  # list name -> items not stored (see to_json)

    def to_json(self) -> str:
        """The report as stored: each list keeps its first STORED_ITEMS, so that a CSV of millions of
        bad rows does not make every page that shows the last import slow."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, list) and len(value) > STORED_ITEMS:
                data["omitted"][key] = data["omitted"].get(key, 0) + len(value) - STORED_ITEMS
                data[key] = value[:STORED_ITEMS]
        return json.dumps(data)

    def count(self, name: str) -> int:
        return len(getattr(self, name)) + self.omitted.get(name, 0)

    def summary(self) -> str:
        lines = [
            f"Folder: {self.folder}",
            f"Mapping CSV: {self.csv or '(none: every image imported unlabeled)'} ({self.rows} rows)",
            f"Image files read: {self.image_files}, distinct images: {self.distinct_images}, "
            f"new to the workspace: {self.new_frames}",
            "Labeled: " + ", ".join(f"{name} {n}" for name, n in self.labeled.items()),
        ]
        problems = [
            ("Repeated rows with the same label (merged)", "duplicate_rows", self.duplicate_rows),
            ("Repeated rows with different labels (left unlabeled, flagged for review)", "conflicting_rows",
             self.conflicting_rows),
            ("Rows whose image is missing", "missing_images", self.missing_images),
            ("Images with no row (imported unlabeled)", "unlabeled_images", self.unlabeled_images),
            ("Files with the same content (stored once)", "same_content", [" = ".join(g) for g in self.same_content]),
            ("Unreadable or non-image files (skipped)", "unreadable", [f"{f}: {why}" for f, why in self.unreadable]),
            ("Frames whose label you changed since; kept yours", "kept_existing_labels", self.kept_existing_labels),
        ]
        for title, name, items in problems:
            total = self.count(name)
            lines.append(f"{title}: {total}")
            lines.extend(f"  - {item}" for item in items[:20])
            if total > 20:
                lines.append(f"  ... and {total - 20} more")
        return "\n".join(lines)


@dataclass
class ImportPlan:
    report: ImportReport
    images: dict[str, tuple[str, CheckedImage]]  # sha256 -> (first file's name in folder, facts)
    names: dict[str, list[str]]  # sha256 -> every file name with that content
    labels: dict[str, int]  # sha256 -> label
    conflicts: dict[str, str]  # sha256 -> what disagreed
    folder: Path  # where the images are read from


_NUMBER = re.compile(r"\d+")


def _number_key(match: re.Match) -> str:
    digits = match.group().lstrip("0") or "0"
    return f"\x00{len(digits):04d}{digits}"  # before any text; a longer number is a larger one


def natural_key(name: str) -> str:
    """frame2.jpg before frame10.jpg: the tutorial numbers frames in capture order.
    A string, not a list of parts: sorting 100,000 names compares keys in C, three times faster."""
    return _NUMBER.sub(_number_key, name.lower())


def plan_import(
    folder: Path, csv_path: Path | None = None, *, class_names: tuple[str, ...], progress: Progress | None = None,
    known: Mapping[str, CheckedImage] | None = None,
) -> ImportPlan:
    """known: file name -> what was read of it before; a file of that name and size is not read again
    (the workspace's own frames, which are written once and never changed in place)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LookoutError(f"{folder} is not a folder; give the folder that holds the images.")
    if csv_path is None and (folder / MAPPING_CSV).exists():
        csv_path = folder / MAPPING_CSV
    rows = read_mapping_csv(csv_path, class_names=class_names) if csv_path else []
    report = ImportReport(folder=str(folder.resolve()), csv=str(csv_path) if csv_path else None, rows=len(rows))

    csv_name = csv_path.name if csv_path is not None and Path(csv_path).parent == folder else None
    with os.scandir(folder) as listing:  # names only: an entry knows whether it is a file without a stat
        entries = [e for e in listing if e.is_file() and not e.name.startswith(".") and e.name != csv_name]
    files = sorted((e.name for e in entries if not _links_out(e, folder)), key=natural_key)
    report.unreadable += [[e.name, "a link to a file outside this folder; copy the image itself into the folder"]
                          for e in entries if _links_out(e, folder)]
    known = known or {}
    images: dict[str, tuple[str, CheckedImage]] = {}
    names: dict[str, list[str]] = {}
    sha_of_name: dict[str, str] = {}
    with _stat_in(folder) as stat:
        for i, name in enumerate(files, 1):  # kept lean: a check of 100,000 frames runs it for each
            if progress:
                progress("reading images", i, len(files))
            checked = known.get(name)  # a known name is an image file's
            if checked is None or checked.size_bytes != stat(name).st_size:
                checked = _read_image(folder, name, report)
                if checked is None:
                    continue
            sha = checked.sha256
            if sha in names:
                names[sha].append(name)
            else:
                images[sha], names[sha] = (name, checked), [name]
            sha_of_name[name] = sha
    report.image_files = len(sha_of_name)
    report.distinct_images = len(images)
    report.same_content = [group for group in names.values() if len(group) > 1]

    labels_of_name: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        labels_of_name[row.image_id].append(row.label)
    labels_of_sha: dict[str, dict[str, set[int]]] = defaultdict(dict)
    unreadable = {name for name, _ in report.unreadable}
    for image_id, found in labels_of_name.items():
        if len(found) > 1 and len(set(found)) == 1:
            report.duplicate_rows.append(image_id)
        if image_id not in sha_of_name:
            if image_id not in unreadable:
                report.missing_images.append(image_id)
            continue
        labels_of_sha[sha_of_name[image_id]][image_id] = set(found)

    labels: dict[str, int] = {}
    conflicts: dict[str, str] = {}
    for sha, by_name in labels_of_sha.items():
        distinct = set().union(*by_name.values())
        if len(distinct) == 1:
            labels[sha] = distinct.pop()
        else:
            conflicts[sha] = "; ".join(
                f"{name}: {', '.join(class_names[c] for c in sorted(found))}" for name, found in sorted(by_name.items())
            )
            report.conflicting_rows.extend(sorted(by_name, key=natural_key))
    report.unlabeled_images = [names[sha][0] for sha in images if sha not in labels_of_sha]
    report.labeled = {name: sum(1 for v in labels.values() if v == i) for i, name in enumerate(class_names)}
    return ImportPlan(report, images, dict(names), labels, conflicts, folder)


def _links_out(entry: os.DirEntry, folder: Path) -> bool:
    """A link that leads out of the folder: importing it would read a server file the folder's
    allowed root does not cover."""
    return entry.is_symlink() and not Path(os.path.realpath(entry.path)).is_relative_to(folder.resolve())


@contextmanager
def _stat_in(folder: Path) -> Iterator[Callable[[str], os.stat_result]]:
    """stat(name) of a file in folder. At 100,000 frames a stat per file is a third of a check: relative
    to the open folder, each resolves one name instead of every folder of the path."""
    if os.stat not in os.supports_dir_fd:
        yield lambda name: os.stat(folder / name)
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        yield partial(os.stat, dir_fd=fd)
    finally:
        os.close(fd)


def _read_image(folder: Path, name: str, report: ImportReport) -> CheckedImage | None:
    """What import keeps of an image file; None, and the reason in the report, for any other file."""
    suffix = name[name.rfind("."):].lower() if "." in name else ""  # no leading dots: hidden files are skipped
    if suffix not in IMAGE_SUFFIXES:
        if suffix != ".csv":
            report.unreadable.append([name, f"not an image file ({', '.join(IMAGE_SUFFIXES)})"])
        return None
    path = folder / name
    try:
        return check_image(path)
    except LookoutError as exc:
        report.unreadable.append([name, str(exc).removeprefix(f"{path} ")])
        return None


def apply_import(ws: Workspace, plan: ImportPlan, *, progress: Progress | None = None) -> ImportReport:
    """Store the planned frames and labels in one transaction, then rewrite the mapping CSV.

    New images are first copied beside frames/, with nothing locked; the transaction then only
    moves them in and records them. Copying 100,000 frames inside it held every colleague's label
    and the monitor's writes for a minute, past the 30 s they wait before failing.
    """
    report = plan.report
    with scratch_dir(ws.frames_dir, "import") as staging:
        staged = _stage_new_images(ws, plan, Path(staging), progress)
        with ws.write_lock():
            with FrameStore(ws.db, ws.frames_dir) as store, transaction(ws.db):
                new_labels: dict[int, int] = {}
                for i, (sha, (first, checked)) in enumerate(plan.images.items(), 1):
                    if progress:
                        progress("storing frames", i, len(plan.images))
                    frame_id, is_new = store.add(  # not staged: stored before (frames are never deleted)
                        NewFrame(
                            staged.get(sha, b""), sha, first, checked.width, checked.height,
                            origin="import", phash=f"{checked.phash:016x}",
                        )
                    )
                    report.new_frames += is_new
                    for name in plan.names[sha]:
                        ws.db.execute(
                            "INSERT OR IGNORE INTO frame_names (frame_id, folder, name) VALUES (?, ?, ?)",
                            (frame_id, report.folder, name),
                        )
                    current = ws.db.execute("SELECT label FROM frames WHERE id = ?", (frame_id,)).fetchone()["label"]
                    if sha in plan.conflicts:
                        ws.db.execute(
                            """INSERT OR IGNORE INTO review_flags (frame_id, kind, detail, created_at)
                               VALUES (?, 'conflicting_labels', ?, ?)""",
                            (frame_id, plan.conflicts[sha], now()),
                        )
                    elif sha in plan.labels:
                        if current is None:
                            new_labels[frame_id] = plan.labels[sha]
                        elif current != plan.labels[sha]:
                            report.kept_existing_labels.append(first)
                if new_labels:
                    record_labels(ws.db, new_labels, source="import")
                ws.db.execute(
                    "INSERT INTO imports (folder, csv_path, at, report_json) VALUES (?, ?, ?, ?)",
                    (report.folder, report.csv, now(), report.to_json()),
                )
            write_mapping_csv(ws)
    return report


def _stage_new_images(ws: Workspace, plan: ImportPlan, staging: Path, progress: Progress | None) -> dict[str, Path]:
    """sha256 -> a copy, in staging, of each planned image the workspace does not hold yet."""
    stored = {row["sha256"] for row in frames_by_sha(ws.db, list(plan.images))}
    staged = {}
    for i, (sha, (first, _)) in enumerate(plan.images.items(), 1):
        if progress:
            progress("copying frames", i, len(plan.images))
        if sha not in stored:
            staged[sha] = staging / sha
            shutil.copyfile(plan.folder / first, staged[sha])
    return staged


def import_folder(
    ws: Workspace, folder: Path, csv_path: Path | None = None, *, progress: Progress | None = None
) -> ImportReport:
    """Check, then store: a folder of images and its mapping CSV (Image_ID,Class)."""
    plan = plan_import(folder, csv_path, class_names=ws.config.classes, progress=progress)
    return apply_import(ws, plan, progress=progress)


def import_zip(ws: Workspace, archive: Path, *, progress: Progress | None = None) -> ImportReport:
    """Import an uploaded zip of frames and its mapping CSV; the unpacked copy is removed after."""
    with scratch_dir(ws.root, "unzip") as unpacked:
        folder = unpack_zip(Path(archive), Path(unpacked))
        plan = plan_import(folder, class_names=ws.config.classes, progress=progress)
        inside = folder.relative_to(Path(unpacked).resolve())
        plan.report.folder = f"{Path(archive).name}" + (f" ({inside})" if inside.parts else "")
        if plan.report.csv:
            plan.report.csv = Path(plan.report.csv).name
        return apply_import(ws, plan, progress=progress)


def last_import_report(ws: Workspace) -> ImportReport | None:
    row = ws.db.execute("SELECT report_json FROM imports ORDER BY id DESC LIMIT 1").fetchone()
    return ImportReport(**json.loads(row["report_json"])) if row else None
