"""Alerts under faults, against apprise posting to a local webhook: none lost, none twice where
the endpoint can tell (the idempotency key), a bounded number of times where it cannot."""

import os
import signal
import subprocess
import sys
import time

import pytest

from data.schema import now, transaction
from monitor.alerts import MAX_UNKNOWN_ATTEMPTS, Alert, Notifier, record_alert, send_pending
from tests.servers import Webhook


def quiet(line):
    pass


@pytest.fixture
def queued(workspace):
    """A workspace with one detection's alert queued."""
    with transaction(workspace.db):
        video = workspace.db.execute(
            "INSERT INTO videos (sha256, path, added_at) VALUES ('abc', '/v.mp4', ?)", (now(),)
        ).lastrowid
        record_alert(workspace.db, video, 1, "v1", Alert("Lookout: Trump detected", "in 9 of 18 frames"))
    return workspace


def status(ws) -> str:
    return ws.db.execute("SELECT status FROM alerts").fetchone()[0]


def keys(hook) -> set[str]:
    return {post["idempotency_key"] for post in hook.received}


def test_a_webhook_slower_than_the_timeout_gets_the_alert_a_bounded_number_of_times(queued):
    with Webhook() as hook:
        hook.delay = 2.5  # apprise waits rto=1 s for the reply
        notifier = Notifier([hook.apprise_url + "?rto=1"])
        for _ in range(MAX_UNKNOWN_ATTEMPTS + 2):  # it was delivered once per cycle, for ever
            send_pending(queued, notifier, log=quiet)
        time.sleep(hook.delay)
    assert len(hook.received) == MAX_UNKNOWN_ATTEMPTS and len(keys(hook)) == 1
    assert status(queued) == "unknown"


def test_a_monitor_killed_while_the_webhook_holds_its_reply_resends_with_the_same_key(queued):
    with Webhook() as hook:
        hook.delay = 30
        code = ("import sys; from data.workspace import Workspace; from monitor.alerts import Notifier, send_pending; "
                f"send_pending(Workspace.open(sys.argv[1]), Notifier([{hook.apprise_url!r}]))")
        proc = subprocess.Popen([sys.executable, "-c", code, str(queued.root)],
                                env={**os.environ, "PYTHONPATH": os.getcwd()})
        deadline = time.monotonic() + 60
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)  # after the post arrived, before its reply
        proc.wait()
        hook.delay = 0
        assert send_pending(queued, Notifier([hook.apprise_url]), log=quiet) == (1, 0)
        assert send_pending(queued, Notifier([hook.apprise_url]), log=quiet) == (0, 0)
    assert len(hook.received) == 2 and len(keys(hook)) == 1  # the receiver can tell it is one alert
    assert status(queued) == "sent"


def test_an_endpoint_that_is_down_gets_the_alert_when_it_is_back_and_the_other_only_once(queued):
    with Webhook() as up, Webhook() as down:
        down.down = True
        notifier = Notifier([up.apprise_url, down.apprise_url])
        assert send_pending(queued, notifier, log=quiet) == (1, 1)  # sent (one address has it), still waiting
        for _ in range(MAX_UNKNOWN_ATTEMPTS + 2):  # refusals are not counted against it
            assert send_pending(queued, notifier, log=quiet) == (0, 1)
        down.down = False
        assert send_pending(queued, notifier, log=quiet) == (0, 0)
    assert len(up.received) == 1 and len(down.received) == 1
    assert keys(up) == keys(down)
    row = queued.db.execute("SELECT attempts, status FROM alerts").fetchone()
    assert tuple(row) == (MAX_UNKNOWN_ATTEMPTS + 5, "sent")  # up once, down at every one of the 4 + MAX cycles


def test_every_attempt_is_recorded_before_it_is_made(queued, monkeypatch):
    seen = []

    def send_to(self, index, alert, *, key=None):
        seen.append(queued.db.execute("SELECT COUNT(*) FROM alert_attempts WHERE outcome IS NULL").fetchone()[0])
        return "delivered", None

    monkeypatch.setattr(Notifier, "send_to", send_to)
    send_pending(queued, Notifier(["json://127.0.0.1:9/x"]), log=quiet)
    assert seen == [1]


def test_the_alerts_table_says_which_address_has_the_alert_and_why_the_other_has_not(queued):
    """One working and one dead address: the cycle said "0 alerts sent" and both rows "waiting" while the
    working receiver had the alert; the problem column showed apprise's URL with its options."""
    from data.alert_records import recent_alerts
    from ui.monitor import alerts_table

    with Webhook() as up, Webhook() as down:
        down.down = True
        secret = "?+X-Api-Key=s3cret-token"
        assert send_pending(queued, Notifier([up.apprise_url, down.apprise_url + secret]), log=quiet) == (1, 1)
        (row,) = alerts_table(queued, recent_alerts(queued.db)).to_dict("records")
    assert len(up.received) == 1
    assert row["status"] == "sent to 1 of 2 addresses; the others are tried again next cycle"
    assert row["delivered to"] == f"json to 127.0.0.1:{up.httpd.server_address[1]}"
    assert row["not delivered to"].startswith(f"json to 127.0.0.1:{down.httpd.server_address[1]}: failing (")
    assert "s3cret" not in str(row) and "X-Api-Key" not in str(row) and "json://" not in str(row)


@pytest.mark.parametrize("video, target, version, alerts", [
    ("abc", 1, "v1", False),  # the same detection scored again
    ("abc", 1, "v2", False),  # a retrained version alerted Trump.mp4 a second time, under a new alert id
    ("abc", 2, "v2", True),  # a later version may add a target
    ("def", 1, "v2", True),  # another video
], ids=["same version", "a new version", "a new target", "another video"])
def test_one_alert_per_video_and_target_across_versions(queued, video, target, version, alerts):
    with transaction(queued.db):
        queued.db.execute("INSERT OR IGNORE INTO videos (sha256, path, added_at) VALUES (?, ?, ?)",
                          (video, f"/{video}.mp4", now()))
        video_id = queued.db.execute("SELECT id FROM videos WHERE sha256 = ?", (video,)).fetchone()[0]
        assert record_alert(queued.db, video_id, target, version, Alert("Lookout: detected", "")) is alerts
    assert queued.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1 + alerts
