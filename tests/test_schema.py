import sqlite3

import pytest

from data.schema import MIGRATIONS, applied_migrations, connect, migrate


def test_migrations_apply_once_in_order_on_a_fresh_database():
    conn = connect(":memory:")
    assert applied_migrations(conn) == [name for name, _ in MIGRATIONS]
    assert migrate(conn) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"frames", "label_actions", "label_history", "videos", "predictions", "models", "alerts"} <= tables


def test_a_failing_migration_leaves_no_half_applied_schema():
    conn = connect(":memory:")
    broken = MIGRATIONS + (("m999_broken", ("CREATE TABLE half (x)", "CREATE TABLE frames (y)")),)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    assert "m999_broken" not in applied_migrations(conn)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half'").fetchone()
