"""The app's pages, rendered headless with Streamlit's test runner."""

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOKOUT_WORKSPACE", str(tmp_path / "ws"))
    return AppTest.from_file("../app.py", default_timeout=60)


def test_empty_workspace_explains_what_to_do(app):
    app.run()
    assert not app.exception
    assert "workspace is empty" in app.info[0].value


def test_dataset_page_imports_a_folder(app, dataset):
    app.run()
    app.text_input[0].input(str(dataset / "Data_deeplearning"))
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert "Imported 584 new frames" in app.success[0].value
    assert "Rows whose image is missing: 1" in app.code[0].value
