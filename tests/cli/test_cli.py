"""CLI smoke tests through a subprocess, as a user runs them."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from ssmp3d.cli.main import main


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "ssmp3d.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_oracle_json():
    proc = _run("oracle", "--scenes", "6", "--seed", "3", "--max-people", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("mpjpe_mm", "recall", "precision", "people", "readouts", "readout_rules", "full_over_naive"):
        assert key in out
    assert out["scenes"] == 6 and out["backend"] == "python" and out["readout"] == "full"
    assert set(out["readouts"]) == {"full", "naive"}
    assert 0.9 <= out["recall"] <= 1.0


def test_oracle_h36m_skeleton():
    proc = _run("oracle", "--scenes", "3", "--skeleton", "h36m17", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["skeleton"] == "h36m17" and len(out["per_joint_mm"]) == 17


def test_oracle_human_text_and_naive():
    proc = _run("oracle", "--scenes", "3", "--readout", "naive", "--preset", "sparse", "--max-people", "3")
    assert proc.returncode == 0, proc.stderr
    assert "MPJPE" in proc.stdout and "naive" in proc.stdout


def test_bench_json():
    proc = _run("bench", "--people", "1,5", "--batch", "1,2", "--repeat", "2", "--warmup", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    rows = out["decode"]
    assert {(r["people"], r["batch"]) for r in rows} == {(1, 1), (1, 2), (5, 1), (5, 2)}
    assert all(r["per_frame_ms"] > 0 and r["backend"] == "python" for r in rows)
    assert out["machine"]["torch"] and out["map_shape"] == [19, 128, 128]
    assert all(r["speedup"] > 0 for r in out["nms"])


@pytest.mark.parametrize("args, needle", [
    (("oracle", "--scenes", "0"), "scenes"),
    (("oracle", "--backend", "gpu"), "backend"),
    (("oracle", "--scenes", "abc"), "scenes"),
    (("bench", "--people", "0"), "people"),
    (("bench", "--people", "x,y"), "people"),
    (("frobnicate",), "invalid choice"),
    (("predict", "x.png", "--out", "o", "--threads", "0"), "--threads"),
    (("eval", "--threads", "-1"), "--threads"),
    (("train", "--out", "o", "--threads", "0"), "--threads"),
    (("train", "--out", "o", "--orpm-weight", "-1"), "orpm_weight"),
    (("train", "--out", "o", "--heatmap-weight", "nan"), "heatmap_weight"),
    (("train", "--out", "o", "--tag-weight", "-0.5"), "pull_weight"),
    (("demo", "--threads", "0"), "--threads"),
])
def test_bad_input_exits_2_with_one_line(args, needle):
    proc = _run(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unbuilt_backend_is_a_clean_error(capsys):
    # The python backend is always there; asking for another that is not built is a one-line error.
    from ssmp3d.decoding.api import available_backends

    missing = [b for b in ("cpu", "cuda") if b not in available_backends()]
    if not missing:
        pytest.skip("every backend is built")
    assert main(["oracle", "--scenes", "1", "--backend", missing[0]]) == 2
    err = capsys.readouterr().err
    assert "backend" in err and len(err.strip().splitlines()) == 1


def test_console_script_when_installed():
    exe = shutil.which("ssmp3d")
    if exe is None:
        pytest.skip("the ssmp3d console script is not installed (source-tree run)")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("ssmp3d ")


def test_plain_progress_lines_off_a_terminal():
    """Off a terminal (logs, CI, nohup) the bar is invisible: plain lines instead, none for a short job."""
    import io

    from ssmp3d.cli.progress import plain_progress

    stream = io.StringIO()
    with plain_progress(4, "predict", "item", stream=stream, interval=0.0) as advance:
        advance(1)
        advance(3, loss=0.123456)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("predict: 1/4 item (25%), ") and lines[0].endswith(" left")
    assert lines[1].startswith("predict: 4/4 item (100%), ") and lines[1].endswith("loss=0.1235")
    assert lines[2].startswith("predict: 4/4 item (100%), ") and " in all" in lines[2] and len(lines) == 3
    quiet = io.StringIO()
    with plain_progress(None, "train", "step", stream=quiet, interval=3600.0) as advance:
        advance(5)
    assert quiet.getvalue() == ""


def test_progress_bar_chooses_by_terminal(monkeypatch):
    import io

    from ssmp3d.cli import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    for stream, plain in ((io.StringIO(), True), (Terminal(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        with progress.progress_bar(3, "eval", "frame") as advance:
            advance(3)
        text = stream.getvalue()
        assert text.startswith("eval: 3/3 frame (100%)") == plain and ("\r" in text) != plain, text
