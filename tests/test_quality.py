"""Real accuracy, offline: the face backbone on the tutorial's dataset and its two clips."""

import numpy as np
import pytest

from data.video import sample_video
from monitor.verdict import video_verdicts
from trainer.predict import predict_images
from trainer.registry import load_model


def verdict_for(ws, backbone, video):
    model = load_model(ws, "active")
    frames = list(sample_video(video, fps=1))
    probs = predict_images(model, backbone, [f.rgb for f in frames])
    (verdict,) = video_verdicts(probs, np.array([f.represents for f in frames]), classes=model.classes, rule=ws.config.frame_rule,
                              thresholds=model.thresholds(ws.config.frame_rule))
    return verdict


def test_face_model_separates_trump_from_biden(trained_face_workspace, face_backbone, dataset):
    ws, result = trained_face_workspace
    f1 = result.card["validation"]["per_class"]["Trump"]["f1"]
    print(f"test-set F1 (Trump) {f1:.3f} on {result.card['split']['test_frames']} frames")
    assert f1 >= 0.8

    biden = verdict_for(ws, face_backbone, dataset / "Biden.mp4")
    trump = verdict_for(ws, face_backbone, dataset / "Trump.mp4")
    print(f"Biden.mp4: {biden.positive_frames}/{biden.sampled_frames} frames; "
          f"Trump.mp4: {trump.positive_frames}/{trump.sampled_frames}")
    assert biden.sampled_frames == pytest.approx(59, abs=2) and not biden.positive
    assert trump.sampled_frames == pytest.approx(18, abs=1) and trump.positive
