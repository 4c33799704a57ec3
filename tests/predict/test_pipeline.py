"""run_predict: files in, JSON lines, overlays, 3D views and a summary out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssmp3d.decoding import DecodeConfig
from ssmp3d.predict import ImagePoses, Interrupted, PredictOptions, Predictor, run_predict
from bad_files import huge_png  # noqa: E402

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    # One thread: with det_threshold -1 every pixel is a candidate, and the untrained network's
    # last bits (which differ between thread counts and batch sizes on 2 threads) pick among
    # near-ties; the decoders themselves agree exactly.
    return Predictor(tiny_checkpoint, device="cpu", batch_size=2, threads=1,
                     decode_config=DecodeConfig(det_threshold=-1.0, max_people=3))


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


def _folder(tmp_path, n=4, size=(40, 60)):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (*size, 3), np.uint8))
    return folder


def test_every_kind_of_bad_file_is_a_bad_item_and_the_job_goes_on(tmp_path, predictor, monkeypatch):
    """A header claiming 10^10 pixels (cv2.error), a file that cannot be read (PermissionError) and a huge
    sparse file (MemoryError) each become one bad item; the readable images are predicted."""
    folder = _folder(tmp_path, 2)
    huge_png(folder / "b_huge.png")
    (folder / "c_locked.png").write_bytes((folder / "0.png").read_bytes())
    try:
        with open(folder / "d_sparse.png", "wb") as f:
            f.truncate(1 << 40)  # 1 TiB of nothing, no disk used: more than memory, numpy's MemoryError
    except OSError:
        pytest.skip("this file system has no sparse files")
    real_fromfile = np.fromfile

    def fromfile(path, *args, **kwargs):  # root reads mode-000 files: simulate the permission error
        if str(path).endswith("c_locked.png"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_fromfile(path, *args, **kwargs)

    monkeypatch.setattr(np, "fromfile", fromfile)
    bad = []
    summary = run_predict(folder, tmp_path / "out", predictor, on_bad=lambda s, e: bad.append((s, e)))
    assert summary["frames"] == 2 and summary["interrupted"] is None
    errors = {b["source"].rsplit("/", 1)[-1]: b["error"] for b in summary["bad"]}
    assert set(errors) == {"b_huge.png", "c_locked.png", "d_sparse.png"}
    assert "too large to decode" in errors["b_huge.png"]
    assert "cannot read the file (Permission denied)" in errors["c_locked.png"]
    assert "larger than an image may be" in errors["d_sparse.png"]
    assert all("\n" not in e and e.startswith(str(folder)) for e in errors.values())
    assert [e for _, e in bad] == [b["error"] for b in summary["bad"]]
    assert all(b["frame"] is None for b in summary["bad"])


def test_an_image_the_network_cannot_take_costs_only_itself(tmp_path, predictor, monkeypatch):
    folder = _folder(tmp_path, 3)
    cv2.imwrite(str(folder / "1.png"), np.zeros((7, 9, 3), np.uint8))  # the one that "crashes"
    real = Predictor.predict_batch

    def predict_batch(self, images, **kwargs):
        if any(im.shape[:2] == (7, 9) for im in images):
            raise RuntimeError("CUDA error: an illegal memory access\nsecond line")
        return real(self, images, **kwargs)

    monkeypatch.setattr(Predictor, "predict_batch", predict_batch)
    summary = run_predict(folder, tmp_path / "out", predictor)
    assert summary["frames"] == 2
    assert [b["error"] for b in summary["bad"]] == [
        f"{folder / '1.png'}: cannot predict (RuntimeError: CUDA error: an illegal memory access)"]


def test_every_and_max_frames(tmp_path, predictor):
    folder = _folder(tmp_path, 7)
    summary = run_predict(folder, tmp_path / "out", predictor, options=PredictOptions(every=3, overlay=True))
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [Path(x["source"]).name for x in lines] == ["0.png", "3.png", "6.png"] and summary["every"] == 3
    assert [x["index"] for x in lines] == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "out" / "overlay").iterdir()) == ["0.jpg", "3.jpg", "6.jpg"]
    summary = run_predict(folder, tmp_path / "o2", predictor, options=PredictOptions(every=2, max_frames=2))
    lines = [json.loads(x) for x in (tmp_path / "o2" / "predictions.jsonl").read_text().splitlines()]
    assert [Path(x["source"]).name for x in lines] == ["0.png", "2.png"] and summary["max_frames"] == 2

    video = _video(tmp_path / "clip.mp4", 10)
    summary = run_predict(video, tmp_path / "o3", predictor,
                          options=PredictOptions(every=4, max_frames=2, overlay=True))
    lines = [json.loads(x) for x in (tmp_path / "o3" / "predictions.jsonl").read_text().splitlines()]
    assert [(x["index"], x["frame"]) for x in lines] == [(0, 0), (1, 4)] and summary["frames"] == 2
    cap = cv2.VideoCapture(summary["overlay"])
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    cap.release()
    for bad in ({"every": 0}, {"max_frames": 0}, {"every": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            PredictOptions(**bad)


def _stop_after(monkeypatch, calls: int, exc=KeyboardInterrupt):
    real = Predictor.predict_batch
    count = [0]

    def predict_batch(self, images, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise exc()
        return real(self, images, **kwargs)

    monkeypatch.setattr(Predictor, "predict_batch", predict_batch)


@pytest.mark.parametrize("kind", ["folder", "video"])
def test_an_interrupted_job_leaves_valid_predictions_and_summary(tmp_path, predictor, monkeypatch, kind):
    """Ctrl-C (KeyboardInterrupt) after two batches: predictions.jsonl holds those items in order,
    summary.json says so, no part file is left, and Interrupted carries the summary."""
    source = _folder(tmp_path, 7) if kind == "folder" else _video(tmp_path / "clip.mp4", 7)
    _stop_after(monkeypatch, 2)
    done = []
    with pytest.raises(Interrupted) as info:
        run_predict(source, tmp_path / "out", predictor, options=PredictOptions(overlay=True), progress=done.append)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.signal_name == "SIGINT"
    assert info.value.exit_code == 130
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary == info.value.summary
    assert summary["interrupted"] == "SIGINT" and summary["frames"] == 4 == sum(done)
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2, 3]
    assert all(ImagePoses.from_dict(x).num_people == 3 for x in lines)
    assert not list((tmp_path / "out").glob("*.part-*")) and not list((tmp_path / "out").glob("*.tmp"))
    if kind == "video":
        assert summary["overlay"] is None  # the overlay video is drawn after the prediction
    # Stopped before anything was predicted: empty but valid files.
    _stop_after(monkeypatch, 0)
    with pytest.raises(Interrupted) as info:
        run_predict(source, tmp_path / "o2", predictor)
    assert info.value.summary["frames"] == 0 and (tmp_path / "o2" / "predictions.jsonl").read_text() == ""


def test_output_folder_that_is_a_file(tmp_path, predictor):
    image = _folder(tmp_path, 1) / "0.png"
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ValueError, match="taken: exists and is not a folder"):
        run_predict(image, tmp_path / "taken", predictor)
    with pytest.raises(ValueError, match=r"cannot make the output folder \(.*taken is a file\)"):
        run_predict(image, tmp_path / "taken" / "sub", predictor)
