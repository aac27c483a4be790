"""Files a journalist hands the app: videos to capture, a zip of labeled frames to import."""

from __future__ import annotations

import errno
import re
import shutil
import stat
import zipfile
from pathlib import Path

from data.atomic import write_atomically
from data.errors import LookoutError
from data.images import IMAGE_SUFFIXES
from data.workspace import MAPPING_CSV

MAX_UNPACKED_BYTES = 4 << 30  # a zip bomb stops here, a season of frames does not
MAX_RATIO = 50  # JPEG frames barely compress; a CSV of names about 5 times
SMALL_BYTES = 1 << 20  # a small member, or a small zip in all, may compress well (a CSV of repeated names)


def save_upload(name: str, content: bytes, folder: Path) -> Path:
    """Store an uploaded file in `folder` under a safe name; the same upload twice is stored once."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = Path(re.sub(r"[^\w.-]+", "_", Path(name).name).lstrip(".") or "upload")
    path, n = folder / safe, 1
    while path.exists():
        if path.read_bytes() == content:
            return path
        path, n = folder / f"{safe.stem}-{n}{safe.suffix}", n + 1
    write_atomically(path, content, durable=False)
    return path


def _skipped(member: str) -> bool:
    """Archive clutter from macOS and Windows, not frames."""
    parts = Path(member).parts
    hidden = any(p.startswith(".") and p not in (".", "..") for p in parts)
    return hidden or "__MACOSX" in parts or parts[-1] == "Thumbs.db"


def _check_members(members: list[zipfile.ZipInfo], name: str, archive_bytes: int) -> None:
    """Refuse a zip bomb before writing a byte: by the total it unpacks to, against a cap and against the
    upload's own size, and by how far each member expands (frames and CSVs compress a little, a bomb a
    thousandfold). Members are written only up to their declared sizes, so these bound what is written."""
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED_BYTES:
        raise LookoutError(
            f"{name} unpacks to more than {MAX_UNPACKED_BYTES >> 30} GB; split it, or ask the operator to import the folder."
        )
    if total > max(MAX_RATIO * archive_bytes, SMALL_BYTES):  # 1,000 small members of zeros each passed below
        raise LookoutError(f"{name} expands {total // max(archive_bytes, 1)} times when unpacked, which frames never do; "
                           "not unpacking it.")
    for m in members:
        if m.file_size > max(MAX_RATIO * m.compress_size, SMALL_BYTES):
            raise LookoutError(
                f"{name}: {m.filename} expands {m.file_size // max(m.compress_size, 1)} times when unpacked, "
                "which frames never do; not unpacking it."
            )
        if stat.S_ISLNK(m.external_attr >> 16):
            raise LookoutError(f"{name} holds a link ({m.filename}); zip the files themselves, not links to them.")


def unpack_zip(archive: Path, dest: Path) -> Path:
    """Unpack a zip of frames (with its mapping CSV) into `dest`; returns the folder to import.

    Members stream to disk, never whole in memory; zipfile stops each at its declared size.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise LookoutError(
            f"{archive.name} is not a zip file; zip the folder of frames with its {MAPPING_CSV} and upload that."
        ) from None
    root = dest.resolve()
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir() and not _skipped(m.filename)]
        _check_members(members, archive.name, archive.stat().st_size)
        for member in members:
            try:
                target = (root / member.filename).resolve()
                if not target.is_relative_to(root):
                    raise LookoutError(f"{archive.name} holds a path outside the archive ({_shown(member)}); "
                                       "not unpacking it.")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "xb") as out:
                    shutil.copyfileobj(src, out)
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                raise LookoutError(
                    f"{archive.name} holds {member.filename} twice, or as both a file and a folder; zip the folder again."
                ) from None
            except (zipfile.BadZipFile, EOFError, RuntimeError) as exc:  # RuntimeError: encrypted member
                raise LookoutError(
                    f"{archive.name} is damaged or encrypted at {_shown(member)} ({exc}); zip it again."
                ) from None
            except OSError as exc:
                if exc.errno not in (errno.ENAMETOOLONG, errno.ELOOP):
                    raise  # a full disk is said by the caller, naming where
                raise LookoutError(f"{archive.name} holds a name too long or too deeply nested to unpack "
                                   f"({_shown(member)}); zip the folder with shorter names.") from None
    return images_folder(root, archive.name)


def _shown(member: zipfile.ZipInfo) -> str:
    """A member's name as a message shows it: a hostile one can be thousands of characters."""
    return member.filename if len(member.filename) <= 80 else f"{member.filename[:60]}...{member.filename[-15:]}"


def images_folder(root: Path, archive_name: str) -> Path:
    """The folder holding the mapping CSV, else the one with the most images."""
    csvs = sorted(root.rglob(MAPPING_CSV), key=lambda p: len(p.parts))
    if csvs:
        return csvs[0].parent
    counts: dict[Path, int] = {}
    for path in root.rglob("*"):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            counts[path.parent] = counts.get(path.parent, 0) + 1
    if not counts:
        raise LookoutError(f"{archive_name} holds no images ({', '.join(IMAGE_SUFFIXES)}); zip the folder of frames.")
    return max(counts, key=counts.get)
