"""What a page user may make the server read or fetch.

A newsroom may serve the app to colleagues, so a folder or URL typed into a page is
untrusted: folders only under roots the operator allows (project.toml [access]
import_roots; while the app is served to others and none are listed, none), URLs only
http(s) to public hosts unless the operator lists a host in [access] allowed_hosts.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from pathlib import Path
from urllib.parse import urlsplit

from data.errors import LookoutError

LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")
MAX_CSV_BYTES = 64 << 20  # a million rows of Image_ID,Class is about 20 MB


def serves_others(address: str | None) -> bool:
    """Whether a server bound to `address` (Streamlit's server.address; empty = every interface)
    can be reached from other computers."""
    return (address or "").strip() not in LOCAL_ADDRESSES


def server_folder(text: str, *, roots: tuple[str, ...] | None, serving_others: bool) -> Path:
    """The folder a page user typed, if they may import from it.

    roots: the operator's allowed roots (None: not configured, which means anywhere on a
    local app and nowhere on one served to others). Messages name what the user typed,
    never what it resolves to.
    """
    if roots is None and serving_others:
        raise LookoutError(
            "Importing from a folder on the server is off while the app is served to others; upload a zip "
            "instead, or ask the operator to list allowed folders under [access] import_roots in project.toml."
        )
    # With roots set, one message whether the folder is missing or outside them: two told which server files exist.
    outside = LookoutError(f"{text} is not a folder this app may import from: it must exist inside the folders "
                           "listed under [access] import_roots in project.toml.")
    try:
        path = Path(text).expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise (outside if roots is not None else LookoutError(f"{text} does not exist; check the path.")) from None
    if roots is not None and not any(path.is_relative_to(Path(r).expanduser().resolve()) for r in roots):
        raise outside
    return path


def read_small_file(path: Path, *, limit: int = MAX_CSV_BYTES) -> bytes:
    """A regular file's bytes, at most `limit`: no devices, pipes or kernel pseudo-files
    (/proc reports size 0 and then has content), and no file that would fill memory."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise LookoutError(f"{path.name} is not a regular file; give a CSV file.")
            if info.st_size > limit:
                raise LookoutError(f"{path.name} is larger than {limit >> 20} MB; split it or check it is the right file.")
            content = f.read(limit + 1)
    except FileNotFoundError:
        raise LookoutError(f"{path} does not exist; give the mapping CSV with --csv.") from None
    except IsADirectoryError:
        raise LookoutError(f"{path.name} is a folder, not a CSV file.") from None
    except PermissionError:
        raise LookoutError(f"{path.name} cannot be read (permission denied); check the file's permissions.") from None
    if len(content) != info.st_size:
        raise LookoutError(f"{path.name} is not a regular file (its size changes as it is read); give a CSV file.")
    return content


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_allowed(host: str, addresses: list[str], allowed_hosts: tuple[str, ...]) -> bool:
    """A host the operator allowed by name, or one whose every address is public."""
    if host.lower().rstrip(".") in {h.lower().rstrip(".") for h in allowed_hosts}:
        return True
    return bool(addresses) and all(_is_public(a) for a in addresses)


def resolve(host: str, port: int | None = None) -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)})
    except (socket.gaierror, UnicodeError):
        return []


def check_public_url(url: str, *, allowed_hosts: tuple[str, ...] = ()) -> str:
    """A URL a page user typed, if the server may fetch it: http(s), to a public host or one
    the operator allowed. yt-dlp's pseudo-URLs (ytsearch:, file:) and internal addresses
    are refused without being contacted."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise LookoutError(f"{url[:200]!r} is not a web address; paste the video's https:// link.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LookoutError(f"{url[:200]!r} is not a web address; paste the video's https:// link.")
    addresses = resolve(parts.hostname, port)
    if not addresses and parts.hostname.lower().rstrip(".") not in {h.lower().rstrip(".") for h in allowed_hosts}:
        # a failed lookup is no private host: offline, the app said "www.tiktok.com is not a public web host"
        raise LookoutError(f"Cannot reach {parts.hostname} (no internet, or no such host): check this computer's "
                           "connection and the address, then try again.")
    if not host_allowed(parts.hostname, addresses, allowed_hosts):
        raise LookoutError(
            f"{parts.hostname} is not a public web host, so the app will not fetch from it; paste a TikTok or "
            "other public link (the operator can allow a host under [access] allowed_hosts in project.toml)."
        )
    return url
