"""Importing the tutorial's dataset as published, flaws included."""

import pandas as pd

from data.importer import import_folder, last_import_report, plan_import
from data.labels import label_counts


def test_import_report_has_the_exact_figures_of_the_published_folder(workspace, dataset):
    report = import_folder(workspace, dataset / "Data_deeplearning")
    assert report.rows == 573
    assert report.image_files == 585
    assert report.distinct_images == 584  # frame659.jpg and frame734.jpg are one image
    assert report.new_frames == 584
    assert report.labeled == {"no target": 344, "Trump": 225}
    assert report.duplicate_rows == ["frame206.jpg", "frame287.jpg"]
    assert report.conflicting_rows == []
    assert report.missing_images == ["frame610.jpg"]
    assert len(report.unlabeled_images) == 15
    assert {"frame403.jpg", "frame649(1).jpg", "frame670(1).jpg"} <= set(report.unlabeled_images)
    assert report.same_content == [["frame659.jpg", "frame734.jpg"]]
    assert report.unreadable == []
    assert label_counts(workspace) == {"no target": 344, "Trump": 225, "unlabeled": 15}
    assert last_import_report(workspace) == report


def test_reimporting_adds_nothing(workspace, dataset):
    import_folder(workspace, dataset / "Data_deeplearning")
    again = import_folder(workspace, dataset / "Data_deeplearning")
    assert again.new_frames == 0
    assert workspace.db.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 584
    assert workspace.db.execute("SELECT COUNT(*) FROM label_history").fetchone()[0] == 569


def test_workspace_csv_reads_like_the_tutorial_notebook_and_points_at_real_files(workspace, dataset):
    import_folder(workspace, dataset / "Data_deeplearning")
    mapping = pd.read_csv(workspace.mapping_csv)
    assert list(mapping.columns) == ["Image_ID", "Class"]
    assert len(mapping.Image_ID) == 569 and mapping.Class.sum() == 225
    assert all((workspace.frames_dir / name).is_file() for name in mapping.Image_ID)
    original = pd.read_csv(dataset / "Data_deeplearning" / "mapping_trump.csv").drop_duplicates()
    merged = mapping.merge(original, on="Image_ID", suffixes=("", "_tutorial"))
    assert (merged.Class == merged.Class_tutorial).all()


def test_check_reports_the_workspace_like_an_import(workspace, dataset):
    import_folder(workspace, dataset / "Data_deeplearning")
    report = plan_import(workspace.frames_dir, workspace.mapping_csv, class_names=workspace.config.classes).report
    assert report.labeled == {"no target": 344, "Trump": 225}
    assert report.missing_images == [] and report.duplicate_rows == []
    assert len(report.unlabeled_images) == 15


def test_frames_are_stored_in_capture_order_whatever_the_folder_lists(workspace, tmp_path):
    """The tutorial numbers frames as they were captured: frame2 comes before frame10, whatever the case,
    leading zeros or length of the number; the order frames are stored in is the order they are labeled in."""
    from tests.media import save_image

    names = ["frame10.jpg", "Frame3.JPG", "frame2.jpg", "frame002b.jpg", "frame-1.jpg", "frame" + "9" * 25 + ".jpg",
             "frame100.jpg", "f.jpg", "frame1.png"]
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(names):
        save_image(folder / name, i)
    import_folder(workspace, folder)
    stored = [row[0] for row in workspace.db.execute("SELECT file_name FROM frames ORDER BY id")]
    assert stored == ["f.jpg", "frame1.png", "frame2.jpg", "frame002b.jpg", "Frame3.JPG", "frame10.jpg", "frame100.jpg",
                      "frame" + "9" * 25 + ".jpg", "frame-1.jpg"]  # "frame-" is other text than "frame"
