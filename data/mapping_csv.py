"""The tutorial's label file: `Image_ID,Class`, one row per image file name."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from data.atomic import write_atomically
from data.errors import LookoutError
from data.rows import tuples
from data.untrusted_input import read_small_file

if TYPE_CHECKING:  # the workspace opens by repairing its CSV with these
    from data.workspace import Workspace

HEADER = ("Image_ID", "Class")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class MappingRow:
    line: int
    image_id: str
    label: int


def read_mapping_csv(path: Path, *, class_names: tuple[str, ...]) -> list[MappingRow]:
    """Parse and validate the whole file; any bad row refuses the file, naming the line.

    A UTF-8 byte-order mark, Windows line endings and blank lines are accepted, as
    spreadsheet programs write them. Image_ID must be a bare file name, never a path.
    """
    path = Path(path)
    try:
        text = read_small_file(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LookoutError(f"{path} is not UTF-8 text; save it from your spreadsheet as CSV UTF-8.") from None
    lines = csv.reader(io.StringIO(text, newline=""))
    header = next((r for r in lines if any(cell.strip() for cell in r)), None)
    if header is None:
        raise LookoutError(f"{path} is empty; it needs a header line 'Image_ID,Class' and one row per image.")
    columns = [cell.strip() for cell in header]
    if not set(HEADER) <= set(columns):
        # The file's own text is not echoed: on a served app it could be any file on the server.
        raise LookoutError(f"{path}: the first line must be the header 'Image_ID,Class'; this file's is not.")
    id_col, class_col = columns.index("Image_ID"), columns.index("Class")
    allowed = ", ".join(f"{i} = {name}" for i, name in enumerate(class_names))
    rows = []
    for row in lines:
        line = lines.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(id_col, class_col):
            raise LookoutError(f"{path} line {line}: expected two values, Image_ID and Class.")
        cell, raw_class = row[id_col].strip(" "), row[class_col].strip()
        image_id = restore_formula(cell) if cell.startswith("'") else cell.strip()
        _check_image_id(image_id, path, line)
        try:
            label = int(raw_class)
        except ValueError:
            raise LookoutError(
                f"{path} line {line}: Class {raw_class!r} is not a whole number; use one of {allowed}."
            ) from None
        if not 0 <= label < len(class_names):
            raise LookoutError(f"{path} line {line}: Class {label} is not a class of this project; use one of {allowed}.")
        rows.append(MappingRow(line, image_id, label))
    return rows


def _check_image_id(image_id: str, path: Path, line: int) -> None:
    if not image_id:
        raise LookoutError(f"{path} line {line}: Image_ID is empty; give the image's file name.")
    if "/" in image_id or "\\" in image_id or _DRIVE.match(image_id) or image_id in (".", ".."):
        raise LookoutError(
            f"{path} line {line}: Image_ID {image_id!r} is a path; it must be a file name inside the image folder."
        )


def neutralise_formula(cell: str) -> str:
    """A cell a spreadsheet would run as a formula, quoted the way OWASP describes (a leading ')."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def restore_formula(cell: str) -> str:
    """The name an exported, neutralised cell stood for."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def format_mapping_csv(rows: list[tuple[str, int]]) -> bytes:
    """Rows of (Image_ID, Class) as the tutorial's notebook reads them with pd.read_csv; a file name
    that starts like a formula (=, +, -, @, tab, CR) is written with a leading ' so that a
    spreadsheet shows it instead of running it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows((neutralise_formula(name), label) for name, label in rows)
    return out.getvalue().encode("utf-8")


def mapping_rows(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return tuples(conn, "SELECT file_name, label FROM frames WHERE label IS NOT NULL ORDER BY id")


def write_mapping_csv(ws: Workspace) -> None:
    write_atomically(ws.mapping_csv, format_mapping_csv(mapping_rows(ws.db)))


def sync_mapping_csv(ws: Workspace) -> None:
    """Rewrite the CSV if it does not match the database (after a crash between the two)."""
    with ws.write_lock():
        expected = format_mapping_csv(mapping_rows(ws.db))
        if not ws.mapping_csv.exists() or ws.mapping_csv.read_bytes() != expected:
            write_atomically(ws.mapping_csv, expected)
