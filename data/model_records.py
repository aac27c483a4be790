"""Which model versions exist (their cards), and which labeled frames form the test set."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from data.model_card import ModelCard
from data.schema import now, transaction


def record_model(conn: sqlite3.Connection, folder: Path, card: ModelCard) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO models (version, path, backbone, created_at, card_json) VALUES (?, ?, ?, ?, ?)",
            (card.version, str(folder), card.backbone, now(), json.dumps(card.to_json())),
        )


def forget_model(conn: sqlite3.Connection, version: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM models WHERE version = ?", (version,))


def is_recorded(conn: sqlite3.Connection, version: str) -> bool:
    return conn.execute("SELECT 1 FROM models WHERE version = ?", (version,)).fetchone() is not None


def model_cards(conn: sqlite3.Connection) -> list[ModelCard]:
    """Every recorded version's card, newest first."""
    rows = conn.execute("SELECT version, card_json FROM models ORDER BY version DESC")
    return [ModelCard.from_json(json.loads(r["card_json"]), version=r["version"]) for r in rows]


def test_sides(conn: sqlite3.Connection) -> dict[str, bool]:
    """sha256 -> on the test side, for every frame whose side was ever chosen."""
    return {sha: bool(is_test) for sha, is_test in conn.execute("SELECT sha256, is_test FROM test_set")}


def record_test_sides(conn: sqlite3.Connection, sides: dict[str, bool]) -> None:
    """Record new frames' sides; a side once recorded never changes."""
    with transaction(conn):
        conn.executemany("INSERT OR IGNORE INTO test_set VALUES (?, ?, ?)",
                         [(sha, int(is_test), now()) for sha, is_test in sides.items()])
