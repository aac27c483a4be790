"""What the labels became since a model version read them, per person, and undoing one person's part.

A version refused as worse is often not a worse model but worse labels: 60 frames relabeled
wrongly since the active version trained made the new one look worse on test frames that
were all labeled right. The changes since the active version, per person and class, point
at that cause, and one person's batch goes back in one click.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from data.labels import last_action_id, record_labels
from data.mapping_csv import write_mapping_csv
from data.model_card import ModelCard
from data.schema import transaction
from data.workspace import Workspace

# Each frame whose label now differs from the one it had after action `since`: the label history
# replayed up to `since` (undo rows record the label they restored) gives the label then.
_CHANGED_SINCE = """
    SELECT f.id, f.label, a.who, a.at,
           (SELECT h.class FROM label_history h WHERE h.frame_id = f.id AND h.action_id <= :since
            ORDER BY h.id DESC LIMIT 1) AS label_then
    FROM frames f JOIN label_actions a ON a.id = f.label_action
    WHERE f.label_action > :since"""


@dataclass(frozen=True)
class PersonsChanges:
    who: str
    first_at: str
    last_at: str
    frames: dict[int, int | None]  # frame id -> the label it had when the version read the labels
    moves: dict[tuple[str, str], int]  # (class then, class now) -> frames

    def moves_in_words(self) -> str:
        return "; ".join(f"{before} → {after}: {n}" for (before, after), n in sorted(self.moves.items()))


def labels_read_by(ws: Workspace, card: ModelCard) -> int:
    """The newest label action a version was trained on. Cards from before it was recorded: the last
    action before the version's time (its name is the UTC second it was saved)."""
    if card.label_action is not None:
        return card.label_action
    try:
        saved = datetime.strptime(card.version[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC).isoformat()
    except ValueError:  # a version copied in under another name: nothing to compare against
        return last_action_id(ws.db)
    return ws.db.execute("SELECT COALESCE(MAX(id), 0) FROM label_actions WHERE at <= ?", (saved,)).fetchone()[0]


def label_changes_since(ws: Workspace, since: int) -> list[PersonsChanges]:
    """Per person who gave the labels frames have now: the frames changed after action `since`, most first."""
    names = ws.config.classes

    def name(label):
        return "unlabeled" if label is None else names[label] if label < len(names) else f"class {label}"

    people: dict[str, dict] = {}
    for r in ws.db.execute(_CHANGED_SINCE, {"since": since}):
        if r["label"] == r["label_then"]:  # changed and changed back
            continue
        person = people.setdefault(r["who"], {"at": [], "frames": {}, "moves": {}})
        person["at"].append(r["at"])
        person["frames"][r["id"]] = r["label_then"]
        move = (name(r["label_then"]), name(r["label"]))
        person["moves"][move] = person["moves"].get(move, 0) + 1
    changes = [PersonsChanges(who, min(p["at"]), max(p["at"]), p["frames"], p["moves"]) for who, p in people.items()]
    return sorted(changes, key=lambda c: -len(c.frames))


def undo_changes_since(ws: Workspace, since: int, whose: str, *, who: str | None = None,
                       session: str | None = None) -> int:
    """Put back the labels `whose` changed after action `since`, as one action of `who` (itself undoable).
    Frames someone else labeled since keep their label. Returns how many frames went back."""
    with ws.write_lock():  # read and written under one lock: a label given meanwhile is never overwritten
        with transaction(ws.db):
            person = next((c for c in label_changes_since(ws, since) if c.who == whose), None)
            if person is None:
                return 0
            record_labels(ws.db, person.frames, source="review", who=who, session=session,
                          reason=f"undid {whose}'s changes since the active version")
        write_mapping_csv(ws)
    return len(person.frames)
