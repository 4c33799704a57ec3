"""``ssmp3d train --dataset h36m --root DIR`` on a miniature tree; bad real-data input exits 2."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("cv2")

import h36m_tree as tree  # noqa: E402

from ssmp3d.cli.main import main  # noqa: E402


def test_train_on_h36m_from_the_command_line(tmp_path, capsys):
    root = tmp_path / "h36m"
    tree.make_h36m_tree(root)
    out = tmp_path / "run"
    args = ["train", "--dataset", "h36m", "--root", str(root), "--out", str(out), "--model", "tiny", "--steps", "3",
            "--batch-size", "2", "--every", "2", "--eval-scenes", "2", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 3 and report["skipped_images"] == 0
    assert report["config"]["dataset"] == "h36m" and report["config"]["model"]["num_joints"] == 17
    assert report["config"]["every"] == 2 and report["evaluation"]["scenes"] == 2
    assert main(args[:-1]) == 0  # again: resumes, nothing left to do
    assert "trained steps 3..3" in capsys.readouterr().out


def test_bad_real_data_input_exits_2(tmp_path, capsys):
    assert main(["train", "--dataset", "h36m", "--out", str(tmp_path / "a")]) == 2
    assert "root: the h36m dataset needs its folder" in capsys.readouterr().err
    assert main(["train", "--dataset", "h36m", "--root", str(tmp_path / "none"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "none: no such dataset directory" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty" / "annotations").mkdir(parents=True)
    assert main(["train", "--dataset", "h36m", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "c")]) == 2
    assert "Human36M_subject1_data.json: no such annotation file" in capsys.readouterr().err
