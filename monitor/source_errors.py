"""A source's error as a journalist reads it, and what to do about it.

yt-dlp says the same thing ("Unable to extract secondary user ID") when this computer is offline,
when an account does not exist and when TikTok changed its pages; only the last is fixed by
updating yt-dlp. So an error that looks like a TikTok change is checked against the network first
(`explained`, where the error happens), and said in words where it is shown (`plain_error`,
`source_advice`): the same words on the page, in the log and in the operator's alert.
"""

from __future__ import annotations

import re
import socket
from importlib.metadata import version
from urllib.parse import urlsplit

# yt-dlp's words when a site changed under its extractor (fixed by updating yt-dlp, not by waiting).
EXTRACTOR_BREAK = re.compile(r"Unable to extract|Unsupported URL|Unable to download (JSON|webpage)|HTTP Error 403", re.I)
# A failed name lookup, as yt-dlp, requests and curl word it: offline, or no such host.
NO_NETWORK = re.compile(r"Errno -[235]\b|Name or service not known|Temporary failure in name resolution|"
                        r"getaddrinfo failed|Could not resolve host|Failed to resolve|\(no internet, or no such host\)",
                        re.I)
REFUSED = re.compile(r"Errno 111\b|Connection refused", re.I)
NO_ACCOUNT = re.compile(r"HTTP Error 404|account (does not exist|not found)|couldn't find this account", re.I)
PRIVATE = re.compile(r"private", re.I)
PROBE_SECONDS = 5


def reachable(host: str, port: int | None = None) -> bool:
    """Whether this computer can open a connection to the host's web port (443 unless given)."""
    try:
        socket.create_connection((host, port or 443), timeout=PROBE_SECONDS).close()
    except OSError:
        return False
    return True


def explained(error: str, url: str) -> str:
    """yt-dlp's error for `url`, with a TikTok-change look-alike told apart from no network."""
    looks_like_a_site_change = EXTRACTOR_BREAK.search(error) or "secondary user ID" in error
    said_already = NO_NETWORK.search(error) or REFUSED.search(error)
    parts = urlsplit(url)
    if looks_like_a_site_change and parts.hostname and not said_already and not reachable(parts.hostname, parts.port):
        return f"Cannot reach {parts.hostname} (no internet, or no such host)"
    return error


def plain_error(error: str) -> str:
    """A source's error in words: a failed lookup is no '[Errno -2] Name or service not known'."""
    if NO_NETWORK.search(error):
        url = re.search(r"https?://[^\s:/]+", error)
        return f"Cannot reach {urlsplit(url[0]).hostname if url else 'the site'} (no internet, or no such host)"
    if REFUSED.search(error):
        return "the site refused the connection (nothing answers at that address)"
    return error


def source_advice(error: str) -> str:
    """What to do about a source's error, where we know ("" where we do not)."""
    if NO_NETWORK.search(error):
        return ("This computer could not reach the site: no internet, or its DNS is down. Check the connection; "
                "the source is tried again next cycle.")
    if REFUSED.search(error):
        return "Check the address; if it is right, the site is down, and it is tried again next cycle."
    if PRIVATE.search(error):
        return "The account is private: Lookout can only watch public accounts. Remove it, or ask for access."
    if NO_ACCOUNT.search(error):
        return "TikTok has no account by that name: check the spelling (the part after @ in its address)."
    if "secondary user ID" in error:  # TikTok's page gave no account id: a wrong name, or a TikTok change
        return ("TikTok did not give this account's id: check the name is right (the part after @ in its address); "
                f"if it is, TikTok changed its pages: update yt-dlp {version('yt-dlp')} (installed): pip install -U "
                "'yt-dlp[curl-cffi]'. Scoring one of the account's videos by its link also lets later cycles "
                "find the account by its id.")
    if EXTRACTOR_BREAK.search(error):
        return (f"This looks like a TikTok change that yt-dlp {version('yt-dlp')} (installed) cannot read yet; "
                "update it: pip install -U 'yt-dlp[curl-cffi]'.")
    if "timed out" in error or "gave up after" in error:
        return "The site did not answer in time; it is tried again next cycle."
    return ""
