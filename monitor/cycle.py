"""One monitor cycle: fetch from every source, score new videos with the active model,
queue one alert per detection, deliver pending alerts, keep source health."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from filelock import FileLock, Timeout

from data.errors import LookoutError, full_disk_as_error
from data.monitor_records import failing_sources, is_scored, mark_operator_alerted, record_source_outcome
from data.schema import transaction
from data.workspace import Workspace
from monitor.alerts import Alert, Notifier, send_pending
from monitor.download import record_fetched
from monitor.scoring import alert_on_stored_score, in_order, score_video
from monitor.source_errors import plain_error, source_advice
from monitor.source_kinds import build_sources, source_in_words
from trainer.backbones import Backbone
from trainer.predict import backbone_for
from trainer.registry import load_model

FAILURES_BEFORE_OPERATOR_ALERT = 3
ACTIVE_MODEL = "active model"  # its health is kept beside the sources'; one failure already stops detection


def operator_alert(health) -> Alert:
    """What the operator is told when a source or the active model keeps failing."""
    if health["source"] == ACTIVE_MODEL:
        return Alert(
            title="Lookout: the active model cannot be loaded; detection has stopped",
            body=f"{health['last_error']}\nActivate a working version (python -m trainer list, then activate).",
        )
    error = health["last_error"] or ""
    advice = source_advice(error)
    return Alert(
        title=f"Lookout: source {source_in_words(health['source'])} is failing",
        body=f"{health['consecutive_failures']} cycles in a row failed. Last problem: {plain_error(error)}"
             + (f"\n{advice}" if advice else ""),
    )


@dataclass
class CycleReport:
    model_version: str
    sources: int = 0  # how many were set up
    scored: int = 0
    skipped: int = 0
    detections: int = 0
    alerts_sent: int = 0
    alerts_pending: int = 0
    source_errors: dict[str, list[str]] = field(default_factory=dict)


class BackboneCache:
    """Keeps the loaded backbone between cycles; a newly activated model may need another (another
    backbone, or the same one with other weights or another face descriptor)."""

    def __init__(self, vgg16_weights=None):
        self.vgg16_weights = vgg16_weights
        self.backbone: Backbone | None = None

    def for_model(self, ws: Workspace, model) -> Backbone:
        wanted = model.card.backbone_identity
        if self.backbone is None or self.backbone.name != model.card.backbone or (wanted and self.backbone.identity != wanted):
            self.backbone = backbone_for(ws, model, vgg16_weights=self.vgg16_weights)
        model.check_backbone(self.backbone)
        return self.backbone


def run_once(ws: Workspace, *, backbones: BackboneCache | None = None, dry_run: bool = False, log=print) -> CycleReport:
    lock = FileLock(ws.root / ".monitor.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LookoutError(f"Another monitor run is working on {ws.root}; this one stops (cron will try again).") from None
    try:
        return _cycle(ws, backbones or BackboneCache(), dry_run=dry_run, log=log)
    finally:
        lock.release()


def _active_model(ws: Workspace, backbones: BackboneCache, notifier: Notifier, *, dry_run: bool, log):
    """The active model and its backbone, read each cycle (a newly activated model is picked up).
    A broken one stops detection, so the operator hears of it once per failure streak."""
    try:
        model = load_model(ws, "active")
        backbone = backbones.for_model(ws, model)
    except LookoutError as exc:
        _record_health(ws, ACTIVE_MODEL, [str(exc)])
        _operator_alerts(ws, notifier, dry_run=dry_run, log=log)
        raise
    _record_health(ws, ACTIVE_MODEL, [])
    return model, backbone


def _cycle(ws: Workspace, backbones: BackboneCache, *, dry_run: bool, log) -> CycleReport:
    ws.reload_config()
    notifier = Notifier.for_workspace(ws)
    model, backbone = _active_model(ws, backbones, notifier, dry_run=dry_run, log=log)
    broken: dict[str, str] = {}
    sources = build_sources(ws, broken=broken)
    report = CycleReport(model.version, sources=len(sources) + len(broken))
    for name, why in broken.items():
        report.source_errors[name] = [why]
        _record_health(ws, name, [why])
    for source in sources:
        fetched = source.fetch()
        if fetched.errors:
            report.source_errors[source.name] = fetched.errors
        _record_health(ws, source.name, fetched.errors)

        def scored(video, source=source):
            """The video's score; for a video this model scored before, how many of its detections were
            not alerted yet (a score by hand alerts nobody); or the reason it could not be scored."""
            try:
                video_id = record_fetched(ws, video, source=source.name)
                if is_scored(ws.db, video_id, model.version):
                    return video, alert_on_stored_score(ws, video_id, model)
                return video, score_video(ws, model, backbone, video.path, video_id=video_id, alert=True)
            except LookoutError as exc:
                return video, exc

        for video, score in in_order(backbone, scored, fetched.videos):
            if isinstance(score, int):
                report.skipped += 1
                report.detections += score
                if score:
                    log(f"{video.path.name}: scored earlier by hand; {score} detections alerted now (model {model.version})")
                continue
            if isinstance(score, LookoutError):
                report.source_errors.setdefault(source.name, []).append(str(score))
                log(f"{video.path.name}: not scored: {score}")
                continue
            report.scored += 1
            report.detections += sum(v.positive for v in score.verdicts)
            calls = [f"{v.name} {v.positive_frames}/{v.sampled_frames}" + (" DETECTED" if v.positive else "")
                     for v in score.verdicts]
            log(f"{video.path.name}: {', '.join(calls)} (model {model.version})")
    _operator_alerts(ws, notifier, dry_run=dry_run, log=log)
    report.alerts_sent, report.alerts_pending = send_pending(ws, notifier, dry_run=dry_run, log=log)
    return report


def _record_health(ws: Workspace, source: str, errors: list[str]) -> None:
    with transaction(ws.db):
        record_source_outcome(ws.db, source, errors)


def _operator_alerts(ws: Workspace, notifier: Notifier, *, dry_run: bool, log) -> None:
    """One message per failure streak: scrapers break when TikTok changes, someone must know."""
    for row in failing_sources(ws.db, failures=FAILURES_BEFORE_OPERATOR_ALERT, at_once=ACTIVE_MODEL):
        alert = operator_alert(row)
        if dry_run:
            log(f"[dry run] operator alert: {alert.title}\n{alert.body}")
            continue
        error = notifier.send(alert)
        if error is None:
            with transaction(ws.db):
                mark_operator_alerted(ws.db, row["source"])
        else:
            log(f"operator alert for {row['source']} not delivered: {error}")


def watch(ws: Workspace, *, every_s: float, dry_run: bool = False, log=print, cycles: int | None = None) -> None:
    """Run cycles forever (or `cycles` times), each at most every `every_s` seconds."""
    backbones = BackboneCache()
    done = 0
    while cycles is None or done < cycles:
        started = time.monotonic()
        try:
            with full_disk_as_error(ws.root):  # space freed, the next cycle goes on
                report = run_once(ws, backbones=backbones, dry_run=dry_run, log=log)
            log(f"cycle done: {report.scored} scored, {report.skipped} already scored, {report.detections} detections, "
                f"{report.alerts_sent} alerts sent, {report.alerts_pending} pending")
        except LookoutError as exc:
            log(f"cycle failed: {exc}")
        done += 1
        if cycles is None or done < cycles:
            time.sleep(max(0.0, every_s - (time.monotonic() - started)))
