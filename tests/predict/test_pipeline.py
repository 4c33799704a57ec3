"""run_predict: files in, JSON lines, overlays, 3D views and a summary out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssmp3d.decoding import DecodeConfig
from ssmp3d.predict import ImagePoses, PredictOptions, Predictor, run_predict

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(tiny_checkpoint, device="cpu", batch_size=2, decode_config=DecodeConfig(det_threshold=-1.0,
                                                                                           max_people=3))


def test_folder_with_a_bad_file(tmp_path, predictor):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a.png", (40, 70)), ("c.jpg", (64, 64)), ("d.png", (30, 90))):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (*size, 3), np.uint8))
    (folder / "b.png").write_bytes(b"\x89PNG truncated")
    bad, done = [], []
    summary = run_predict(folder, tmp_path / "out", predictor, options=PredictOptions(overlay=True, plot3d=True,
                                                                                       plot_size=120),
                          on_bad=lambda s, e: bad.append(s), progress=done.append)
    assert bad == [str(folder / "b.png")] and sum(done) == 4
    assert summary["frames"] == 3 and summary["kind"] == "folder" and summary["people"] == 9
    assert [b["source"] for b in summary["bad"]] == [str(folder / "b.png")]
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == summary
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [(x["index"], x["width"], x["height"]) for x in lines] == [(0, 70, 40), (2, 64, 64), (3, 90, 30)]
    # One line = one image's ImagePoses, as the library gives for that image (alone in its batch here,
    # so the network's floats may differ in the last bits).
    direct = predictor.predict(folder / "c.jpg").to_dict()
    assert set(lines[1]) == {"index", *direct} and lines[1]["source"] == direct["source"]
    for a, b in zip(lines[1]["people"], direct["people"]):
        assert a["detected"] == b["detected"] and a["score"] == pytest.approx(b["score"], rel=1e-4)
    assert sorted(p.name for p in (tmp_path / "out" / "overlay").iterdir()) == ["a.jpg", "c.jpg", "d.jpg"]
    assert cv2.imread(str(tmp_path / "out" / "overlay" / "d.jpg")).shape == (30, 90, 3)
    assert sorted(p.name for p in (tmp_path / "out" / "plot3d").iterdir()) == ["a.png", "c.png", "d.png"]


def _video(path, frames, size=(80, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    rng = np.random.default_rng(1)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (size[1], size[0], 3), np.uint8))
    writer.release()
    return path


def test_video_overlay_and_3d_views(tmp_path, predictor):
    video = _video(tmp_path / "clip.mp4", 5)
    summary = run_predict(video, tmp_path / "out", predictor, options=PredictOptions(overlay=True, plot3d=True,
                                                                                      plot_size=100))
    assert summary["kind"] == "video" and summary["frames"] == 5 and summary["bad"] == []
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(5)) and {x["source"] for x in lines} == {str(video)}
    assert ImagePoses.from_dict(lines[0], predictor.skeleton).num_people == 3
    cap = cv2.VideoCapture(summary["overlay"])
    assert summary["overlay"].endswith("clip_overlay.mp4") and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()
    assert len(list((tmp_path / "out" / "plot3d").glob("clip_*.png"))) == 5


def test_nothing_readable_is_an_error(tmp_path, predictor):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(b"")
    (folder / "y.jpg").write_bytes(b"junk")
    with pytest.raises(ValueError, match="nothing to predict, no readable 2 files"):
        run_predict(folder, tmp_path / "out", predictor)
    with pytest.raises(ValueError, match="nothing to predict, no readable image"):
        run_predict(folder / "y.jpg", tmp_path / "out", predictor)
