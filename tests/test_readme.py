"""The README's tour runs, and CI's test command is the README's."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.skipif(not README.exists(), reason="README not in this tree")
def test_tour_runs():
    tour = [b for b in _blocks("python") if "decode(" in b]
    assert tour, "README lost its Python tour"
    exec(compile(tour[0], "README-tour", "exec"), {})


@pytest.mark.skipif(not (ROOT / ".ci" / "run").exists(), reason="CI script not in this tree")
def test_ci_runs_the_readme_test_command():
    text = README.read_text()
    marker = text.index("<!-- test-command -->")
    command = re.search(r"```bash\n(.*?)```", text[marker:], flags=re.S).group(1).strip()
    assert "pytest" in command and "torch==2.13.0" in command
    assert "<!-- test-command -->" in (ROOT / ".ci" / "run").read_text()
