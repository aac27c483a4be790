"""How TikTok shows a frame: re-encoded small, mirrored, dark, turned, under a caption, or as a small
window (a duet, stitch or reaction) inside another video. Used to train on such copies (FormatAugmenter)
and, with fixed settings, to measure detection on them (bench/robustness.py)."""

from __future__ import annotations

import bisect
import hashlib
import json

import cv2
import numpy as np


def reencoded(rgb: np.ndarray, *, shorter: int = 540, quality: int = 35) -> np.ndarray:
    """As TikTok serves its low tiers: 540p (540 px across a portrait video) or 360p, heavily compressed."""
    scale = shorter / min(rgb.shape[:2])
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    _, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[:, :, ::-1]


def mirrored(rgb: np.ndarray) -> np.ndarray:
    return rgb[:, ::-1]


def dark(rgb: np.ndarray, *, light: float = 0.33, seed: int = 0) -> np.ndarray:
    """A share of the light, with a dark room's sensor noise."""
    noise = np.random.default_rng(seed).normal(0, 3, rgb.shape)
    return np.clip(rgb * light + noise, 0, 255).astype(np.uint8)


def turned(rgb: np.ndarray, *, degrees: float = 7) -> np.ndarray:
    height, width = rgb.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, rotation, (width, height), borderMode=cv2.BORDER_REFLECT)


def caption_band(rgb: np.ndarray, lines: tuple[str, ...] = ("wait for it...", "he really said that", "#politics #news #fyp")
                 ) -> np.ndarray:
    """The lower third darkened under white caption text."""
    out = np.ascontiguousarray(rgb).copy()
    height, width = out.shape[:2]
    band = out[2 * height // 3 :]
    band[:] = (band * 0.35).astype(np.uint8)
    for line, text in enumerate(lines):
        cv2.putText(out, text, (width // 12, 2 * height // 3 + (line + 1) * height // 12), cv2.FONT_HERSHEY_SIMPLEX,
                    width / 600, (255, 255, 255), max(1, width // 250), cv2.LINE_AA)
    return out


def inset(rgb: np.ndarray, host: np.ndarray, *, fraction: float, corner: str = "top left") -> np.ndarray:
    """rgb scaled to `fraction` of the host's width, in a corner of the host (a duet or reaction layout)."""
    out = np.ascontiguousarray(host).copy()
    width = max(1, int(host.shape[1] * fraction))
    small = cv2.resize(np.ascontiguousarray(rgb), (width, max(1, int(rgb.shape[0] * width / rgb.shape[1]))),
                       interpolation=cv2.INTER_AREA)[: host.shape[0] - 32]
    top = 16
    left = 16 if corner == "top left" else host.shape[1] - width - 16
    out[top : top + small.shape[0], left : left + width] = small
    return out


class FormatAugmenter:
    """Training copies of a frame as TikTok shows it, the same every time for a (frame, copy, host).

    Half the copies are the frame as a window at a third or a quarter of a host frame's width (its
    label follows the window: a small Trump is Trump, a small stranger in a Trump-less host is not);
    each copy may also be mirrored, darkened or re-encoded small. Hosts are training frames without
    a target, so a test frame never enters training.
    """

    def __init__(self, hosts: list[tuple[str, object]], *, seed: int = 0):
        self.hosts = dict(hosts)  # sha256 -> a callable giving the host's RGB
        self.order = sorted(self.hosts)  # sorted once: a plan is drawn for every copy of every training frame
        self.seed = seed

    def plan(self, sha256: str, copy: int) -> dict:
        """What copy `copy` of the frame `sha256` is: drawn from a hash, so the same whatever the order."""
        digest = hashlib.sha256(f"{sha256}:{self.seed}:{copy}:tiktok".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        itself = sha256 in self.hosts
        others = len(self.order) - itself
        host = None
        if others and rng.random() < 0.5:
            pick = int(rng.integers(others))  # among the hosts but itself, in sorted order
            host = self.order[pick + (itself and pick >= bisect.bisect_left(self.order, sha256))]
        return {"host": host, "fraction": (1 / 3, 1 / 4)[int(rng.integers(2))],
                "corner": ("top left", "top right")[int(rng.integers(2))], "mirror": bool(rng.random() < 0.5),
                "light": float(rng.uniform(0.25, 0.5)) if rng.random() < 0.3 else None, "noise": int(rng.integers(2**31)),
                "shorter": int(rng.choice([360, 540])) if rng.random() < 0.3 else None,
                "quality": int(rng.integers(30, 60))}

    def variant(self, sha256: str, copy: int) -> str:
        """The cache key of the copy: a digest of what was done (the host included), so a copy made
        otherwise (another host, an earlier version of these edits) is never reused."""
        done = json.dumps(self.plan(sha256, copy), sort_keys=True)
        return f"tiktok{self.seed}-{copy}-{hashlib.sha256(done.encode()).hexdigest()[:12]}"

    def __call__(self, rgb: np.ndarray, *, sha256: str, copy: int) -> np.ndarray:
        plan = self.plan(sha256, copy)
        if plan["host"]:
            rgb = inset(rgb, self.hosts[plan["host"]](), fraction=plan["fraction"], corner=plan["corner"])
        if plan["mirror"]:
            rgb = mirrored(rgb)
        if plan["light"]:
            rgb = dark(rgb, light=plan["light"], seed=plan["noise"])
        if plan["shorter"]:
            rgb = reencoded(rgb, shorter=plan["shorter"], quality=plan["quality"])
        return np.ascontiguousarray(rgb)
