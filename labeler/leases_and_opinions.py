"""The Label page's logic: which frame comes next, for several people labeling at once.

Each session leases the frame it shows (data/leases.py), so no other session is shown it.
A second opinion is a blind label of a frame someone else labeled: it is stored apart
and never changes the frame's label; agreement() compares the two.
"""

from __future__ import annotations

import numpy as np

from data import leases
from data.workspace import Workspace


def next_to_label(ws: Workspace, *, session: str = "", who: str = "", skipped: tuple[int, ...] = ()):
    """The first unlabeled frame no other session is showing, leased to this one (None: none left)."""
    return leases.lease_next(ws.db, leases.UNLABELED, session=session, who=who, skipped=skipped)


def next_for_second_opinion(ws: Workspace, *, session: str, who: str, skipped: tuple[int, ...] = ()):
    """A frame someone else labeled that `who` has not given an opinion on, leased to this session."""
    return leases.lease_next(ws.db, leases.OTHERS_LABELED, session=session, who=who, skipped=skipped)


def release(ws: Workspace, session: str) -> None:
    leases.release(ws.db, session)


def give_second_opinion(ws: Workspace, frame_id: int, label: int, *, who: str) -> None:
    leases.record_second_opinion(ws.db, frame_id, label, who=who)


def withdraw_second_opinion(ws: Workspace, frame_id: int, *, who: str) -> None:
    leases.withdraw_second_opinion(ws.db, frame_id, who=who)


def agreement(ws: Workspace) -> dict[str, dict]:
    """Per target: Cohen's kappa between labels and second opinions (is it this target or not),
    over how many frames, and how many they disagree on."""
    # scikit-learn is imported here, not at the top: the Label page imports this module and opens 0.8 s sooner without it
    from sklearn.metrics import cohen_kappa_score

    rows = leases.opinions(ws.db)
    first = np.array([r["label"] for r in rows], dtype=int)
    second = np.array([r["opinion"] for r in rows], dtype=int)
    result = {}
    for t, name in ws.config.targets.items():
        a, b = first == t, second == t
        same = bool((a == b).all())
        kappa = 1.0 if same else float(cohen_kappa_score(a, b))
        result[name] = {"kappa": round(kappa, 3), "frames": len(rows), "disagree": int((a != b).sum())}
    return result
