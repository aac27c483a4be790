"""Train page: one-click retraining with live progress and cancel, metrics, versions, activation."""

import pandas as pd
import streamlit as st

from data.config import BACKBONES
from data.label_changes import label_changes_since, labels_read_by, undo_changes_since
from data.labels import last_action_id, set_labels
from data.mapping_csv import format_mapping_csv, mapping_rows
from data.model_card import ModelCard
from trainer.backbones import descriptor_in
from trainer.predict import chosen_backbone
from trainer.registry import active_version, download_name, export_h5, list_models, read_card, remove, size_in_words
from ui.dataset import BACKBONE_HELP
from ui.progress import ProgressBar, dismiss_job_message, job_running, job_ui, start_job
from ui.when import human_time, version_name
from ui.words import counted
from ui.workspace import active_card, current_workspace, project_backbone_once


def train_ui(ws) -> str | None:
    """The backbone the user asks to train with, once they press Train."""
    backbone = st.selectbox("Backbone", BACKBONES, index=BACKBONES.index(chosen_backbone(ws)), help=BACKBONE_HELP)
    return backbone if st.button("Train a new model", type="primary") else None


def backbone_in_words(card: ModelCard) -> str:
    if card.backbone != "face" or not card.backbone_identity:
        return f"{card.backbone} backbone"
    return "face backbone, " + ("faces described by FaceRes" if descriptor_in(card.backbone_identity) == "faceres"
                                else "faces described by dlib's descriptor")


def descriptor_upgrade_ui(ws, active: ModelCard | None) -> None:
    """Where the monitor's face model still describes faces with dlib's descriptor, say that training
    again moves it to FaceRes, and what that costs."""
    if (active is None or active.backbone != "face" or not active.backbone_identity
            or descriptor_in(active.backbone_identity) != "dlib" or ws.config.face_descriptor != "faceres"):
        return
    st.info("A better face model can be trained. The model the monitor uses tells people apart with dlib's "
            "descriptor, which often takes a small face (a duet window, a dark room, a 360p video) for someone else. "
            "Faces are now described by FaceRes: on TikTok-style copies of the tutorial's test frames, false alerts "
            "fell from 69 to 20 while slightly more Trump frames were found. Press Train: every frame's faces are "
            "described again (a few minutes, with progress), then the new version is compared with the active one on this "
            "workspace's test frames before you activate it. The monitor keeps using the active version until then.")


def train(ws, backbone: str, job):
    job.progress("loading TensorFlow and the backbone (once per server)", 0, 0)  # the bar said "starting" for 28 s
    from trainer.train import train_model  # TensorFlow loads with the first training (or ahead: warm_up), not the page

    loaded = project_backbone_once(ws) if backbone == chosen_backbone(ws) else backbone
    return train_model(ws, backbone=loaded, progress=job.progress, should_stop=job.cancel.is_set)


def describe_training(result) -> str:
    return f"Model {result.version} trained. Activate it below to use it in the monitor."


def pr_chart(name: str, curve: dict, point: dict | None):
    """Precision against recall for one target, with the chosen operating point marked."""
    import altair as alt

    axes = {"recall": alt.X("recall:Q", title=f"Recall: share of {name} frames caught", scale=alt.Scale(domain=[0, 1])),
            "precision": alt.Y("precision:Q", title="Precision: share of alerts that are right",
                               scale=alt.Scale(domain=[0, 1]))}
    line = alt.Chart(pd.DataFrame(curve)).mark_line().encode(axes["recall"], axes["precision"], tooltip=["thresholds"])
    if not point:
        return line
    chosen = pd.DataFrame([{**point, "label": f"threshold {point['threshold']}"}])
    return line + alt.Chart(chosen).mark_point(size=120, filled=True, color="red").encode(
        axes["recall"], axes["precision"], tooltip=["label", "precision", "recall"])


def operating_point_text(name: str, point: dict, goal: float) -> str:
    promise = (f" (at least {point['precision_lower']:.0%} with 95% confidence, from {point['alerts']} test alerts)"
               if "precision_lower" in point else "")  # versions trained before the bound was kept
    if not point["goal_met"]:
        if "alerts_needed" not in point:
            return (f"{name}: no threshold reached {goal:.0%} precision on the test frames; the best, "
                    f"{point['threshold']}, gives precision {point['precision']:.2f} and recall {point['recall']:.2f}.")
        if goal >= 1:
            return (f"{name}: a precision of 100% can never be promised: no number of right test alerts proves that no "
                    "alert will ever be wrong. Set precision_goal in project.toml below 1, e.g. 0.95.")
        if not point["alerts"]:
            return (f"{name}: nothing to promise from yet: no test frame gives an alert at any threshold. Label more "
                    f"frames that show {name} (about a fifth of new videos' frames join the test set).")
        false = f"{point['false_alerts']} false" if point["false_alerts"] else "none false"
        return (f"{name}: cannot promise {goal:.0%} precision yet. At the best threshold, {point['threshold']}, the test "
                f"frames give {point['alerts']} alerts ({false}), which promises at least {point['precision_lower']:.0%}; "
                f"at least {point['alerts_needed']} alerts without a false one are needed. Until then the monitor uses "
                "that threshold. Label more frames (about a fifth of new videos' frames join the test set), and those "
                "like the mistakes below.")
    cost = point["recall_at_floor"] - point["recall"]
    costs = f"; the {goal:.0%} goal costs {cost:.2f} recall" if cost > 0 else ""
    return (f"{name}: alerts when a frame scores at least {point['threshold']} — precision {point['precision']:.2f}"
            f"{promise}, recall {point['recall']:.2f} on the test frames{costs}")


def metrics_ui(ws, card: ModelCard) -> None:
    validation = card.validation
    st.dataframe(pd.DataFrame({name: {
        "Precision: its calls that are right": f"{m['precision']:.2f}", "Recall: its frames found": f"{m['recall']:.2f}",
        "Overall: precision and recall in one (F1)": f"{m['f1']:.2f}", "Test frames": m["support"]}
        for name, m in validation["per_class"].items()}).T,
        width="content")
    classes = card.classes
    st.write("Confusion matrix (rows: true class, columns: predicted)")
    st.dataframe(pd.DataFrame(validation["confusion_matrix"], index=classes, columns=classes), width="content")
    points = card.operating_points
    if card.precision_goal is not None and card.precision_goal != ws.config.frame_rule.precision_goal:
        st.info(f"The precision goal in project.toml is now {ws.config.frame_rule.precision_goal}; this version chose its "
                f"thresholds for {card.precision_goal}. Train again to apply the new goal.")
    for name, curve in validation["pr_curves"].items():
        if curve["recall"]:
            st.write(f"Precision and recall for {name}")
            st.altair_chart(pr_chart(name, curve, points.get(name)))
        if name in points:
            st.caption(operating_point_text(name, points[name], card.precision_goal))


def comparison_ui(ws, active: str, chosen: str) -> list[str] | None:
    """The chosen version against the active one on the same test frames; what got worse, in words."""
    from data.errors import LookoutError
    from trainer.compare import compare_versions

    key = ("comparison", active, chosen, last_action_id(ws.db))
    if key not in st.session_state:
        bar = st.empty()
        try:
            st.session_state[key] = compare_versions(ws, [active, chosen], progress=ProgressBar(bar, "Scoring both versions"))
        except LookoutError as exc:
            st.session_state[key] = str(exc)
        bar.empty()
    comparison = st.session_state[key]
    if isinstance(comparison, str):
        st.warning(f"Could not compare with the active version: {comparison}")
        return None
    st.subheader(f"{chosen} against the active {active}")
    st.caption(f"Both scored on the same {comparison.frames} test frames; 95% intervals in brackets.")
    st.dataframe(pd.DataFrame(comparison.table()), hide_index=True)
    worse = comparison.worse(chosen)
    if worse:
        st.error("Worse than the active version: " + "; ".join(worse) + ".")
        st.info(REFUSED_NEXT_STEPS)
        label_changes_ui(ws, active)
    else:
        st.success("Not worse than the active version beyond the intervals.")
    changed_frames_ui(ws, comparison, active, chosen)
    return worse


REFUSED_NEXT_STEPS = (
    "What you can do:\n"
    "1. Look at the labels changed since the active version was trained (undo a person's batch there if it was "
    "wrong), and at the test frames below that the two versions call differently. Where a frame's label is wrong, "
    "relabel it here: the comparison is done again at once.\n"
    "2. Where the label is right, label more frames like it (Label or Review page), then train again.\n"
    "3. Or activate this version anyway, below, knowing it is worse on these frames."
)


def label_changes_ui(ws, active: str) -> None:
    """Who changed which labels since the active version read them: wrong relabels, not a worse model, are a
    common cause of a refusal. A person's batch goes back in one click (an action of its own, undoable)."""
    from ui.people import me, require_labeler

    since = labels_read_by(ws, read_card(ws, active))
    changes = label_changes_since(ws, since)
    if not changes:
        st.caption(f"No label has changed since {version_name(active)} was trained: the labels are not the cause.")
        return
    st.write(f"Labels changed since {version_name(active)} was trained:")
    st.dataframe(pd.DataFrame([{"who": c.who, "frames": len(c.frames), "changes": c.moves_in_words(),
                                "from": human_time(c.first_at), "to": human_time(c.last_at)} for c in changes]),
                 hide_index=True)
    can_label = require_labeler() is not None
    for c in changes if can_label else []:
        if c.who != "import" and st.button(f"Undo {c.who}'s {counted(len(c.frames), 'change')}", key=f"undo-since-{c.who}"):
            n = undo_changes_since(ws, since, c.who, **me())
            st.session_state.train_note = (f"{counted(n, 'frame')} went back to the label they had when "
                                           f"{version_name(active)} was trained. Train again to try the labels.")
            st.rerun()


def changed_frames_ui(ws, comparison, active: str, chosen: str) -> None:
    """The test frames the versions disagree on, each relabelable: a wrong test label is fixed where it is seen."""
    from ui.people import me, require_labeler

    if not comparison.changed:
        return
    st.write(f"{len(comparison.changed)} test frames are called differently:")
    can_label = require_labeler() is not None
    columns = st.columns(4)
    for i, frame in enumerate(comparison.changed[:40]):
        column = columns[i % 4]
        column.image(str(ws.frames_dir / frame.file_name), caption=(
            f"{frame.file_name}, labeled {frame.label}: active says {frame.predicted[active]}, "
            f"{chosen} says {frame.predicted[chosen]}"))
        others = [c for c, name in enumerate(ws.config.classes) if name != frame.label]
        for label in others if can_label else []:
            if column.button(f"Relabel {ws.config.classes[label]}", key=f"relabel-{frame.frame_id}-{label}"):
                set_labels(ws, {frame.frame_id: label}, source="review", reason="comparison", **me())
                st.session_state.train_note = (f"{frame.file_name} is now labeled {ws.config.classes[label]}; "
                                               "the versions were compared again on the corrected labels.")
                st.rerun()


def activation_ui(ws, active: str | None, chosen: str) -> None:
    from data.errors import LookoutError
    from trainer.compare import activate_checked

    worse = comparison_ui(ws, active, chosen) if active else None
    force = bool(worse) and st.checkbox("Activate anyway, knowing it is worse", key=f"force-{chosen}")
    if st.button("Activate anyway" if force else "Activate for the monitor", disabled=bool(worse) and not force):
        try:
            activate_checked(ws, chosen, force=force)
        except LookoutError as exc:
            st.error(str(exc))
        else:  # drawn anew: the picker says "(active)" and Activate and Delete go at once
            st.session_state.train_note = f"{version_name(chosen)} is now the model the monitor uses."
            dismiss_job_message(ws, "train")  # "trained: activate it below" is done with; one message at a time
            st.rerun()


def removal_ui(ws, chosen: str) -> None:
    """Every retrain adds a version (a vgg16 one is 213 MB on disk); one the monitor does not use can go."""
    from data.errors import LookoutError

    with st.popover("Delete this version"):
        st.write(f"{chosen} and its files are deleted for good. The monitor's model is not touched.")
        if st.button(f"Delete {chosen}", key=f"remove-{chosen}", type="primary"):
            try:
                freed = remove(ws, chosen)
            except LookoutError as exc:
                st.error(str(exc))
                return
            st.session_state.train_note = f"Deleted {chosen}: {size_in_words(freed)} freed."
            st.rerun()


def page() -> None:
    ws = current_workspace()
    st.title("Train")
    note = st.empty()  # always drawn, so the note coming and going moves nothing below it
    if text := st.session_state.pop("train_note", None):
        note.success(text)
    descriptor_upgrade_ui(ws, active_card(ws))
    backbone = train_ui(ws)
    if backbone:
        start_job(ws, "train", lambda job: train(ws, backbone, job))
    job_ui(ws, "train", "Training", describe_training, cancel="Cancel training")
    models = list_models(ws)
    if not models:
        if job_running(ws, "train"):
            st.info("The first model is training; it appears here when it is done.")
        else:
            st.info("No model yet. Label frames of each class, then press Train.")
        return
    active = active_version(ws)
    versions = [m.version for m in models]  # newest first
    # opens on a version newer than the active one (just trained: its comparison and Activate), else the active one
    opened = 0 if active not in versions or versions[0] > active else versions.index(active)
    chosen = st.selectbox("Model version", versions, index=opened, format_func=lambda v: version_name(v, active=active))
    card = next(m for m in models if m.version == chosen)
    counts = ", ".join(f"{n} {name}" for name, n in card.label_counts.items())
    st.caption(f"{backbone_in_words(card)} · trained on {counts} frames · test frames kept apart by "
               f"{card.split['grouping']}")
    if reliability := card.split.get("reliability"):
        (st.warning if reliability.startswith("rough") else st.caption)(f"Test figures: {reliability}")
    # Both files are made when clicked: a vgg16 model is 106 MB, and copying it on every rerun held each click up 1.5 s.
    # Drawn above the figures and Activate/Delete: the chart is drawn a moment after the page, and Activate and
    # Delete go once used, so a button below them moved under the pointer; a click right after Activate missed.
    st.download_button("Download the model (.h5)", lambda: export_h5(ws, chosen),
                       file_name=download_name(ws.config.name, ws.config.classes[1:], chosen),
                       help="The file holds everything needed to use it: give it to `python -m monitor score --model FILE`")
    st.download_button("Download mapping_trump.csv", lambda: format_mapping_csv(mapping_rows(ws.db)),
                       file_name="mapping_trump.csv")
    metrics_ui(ws, card)
    if chosen != active:
        activation_ui(ws, active, chosen)
        removal_ui(ws, chosen)
