"""The model card read from what older, newer and damaged files hold."""

import json

import pytest

from data.model_card import ModelCard
from data.model_records import model_cards, record_model
from data.schema import connect

TRAINED = {"version": "20261201-101500", "backbone": "face", "backbone_identity": "dlib-v1", "input_shape": [4, 129],
           "classes": ["no target", "Trump"], "thresholds": {"Trump": 0.62}, "label_counts": {"no target": 40, "Trump": 20},
           "split": {"grouping": "video", "test_frames": 12, "reliability": "rough"}, "seed": 3}


@pytest.mark.parametrize("stored, expected", [
    (TRAINED, {"backbone": "face", "input_shape": (4, 129), "classes": ("no target", "Trump"), "seed": 3}),
    # a card written before thresholds, operating points and calibration existed
    ({"version": "old", "backbone": "vgg16", "input_shape": [7, 7, 512], "classes": ["no target", "target"],
      "threshold": 0.5}, {"thresholds": {}, "calibration_error": None, "precision_goal": None}),
    # a newer Lookout's card: fields it added are ignored, not an error
    ({**TRAINED, "drift_report": {"psi": 0.1}}, {"version": "20261201-101500"}),
    ({**TRAINED, "thresholds": None}, {"thresholds": {}}),  # null where an object is expected
])
def test_cards_written_by_any_version_read_as_attributes(stored, expected):
    card = ModelCard.from_json(stored)
    assert {key: getattr(card, key) for key in expected} == expected
    assert ModelCard.from_json(json.loads(json.dumps(card.to_json()))) == card  # what is written reads back the same


@pytest.mark.parametrize("stored, said", [
    ([1, 2], "a JSON object, not list"),
    ({**TRAINED, "classes": "Trump"}, "lacks the classes"),
    ({**TRAINED, "input_shape": []}, "lacks the input shape"),
    ({k: v for k, v in TRAINED.items() if k != "backbone"}, "lacks the backbone"),
    ({**TRAINED, "thresholds": [0.5]}, "its thresholds is not an object"),
])
def test_a_card_that_is_not_one_says_what_it_lacks(stored, said):
    with pytest.raises(ValueError, match=said):
        ModelCard.from_json(stored)


def test_a_card_is_named_by_where_it_is_kept_not_by_what_it_claims(tmp_path):
    assert ModelCard.from_json(TRAINED, version="renamed").version == "renamed"
    conn = connect(tmp_path / "lookout.sqlite")
    record_model(conn, tmp_path, ModelCard.from_json(TRAINED))
    (listed,) = model_cards(conn)
    assert listed == ModelCard.from_json(TRAINED) and listed.targets == ("Trump",)
    with pytest.raises(AttributeError):
        listed.version = "other"  # frozen: a card read is never changed in place
