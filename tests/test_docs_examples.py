"""Every code block of the manual's tutorials and getting-started page runs, so the manual
cannot drift from the code.

Per page, in a fresh temporary directory and in page order: a ```yaml block preceded by a
``% file: NAME`` line (a MyST comment, invisible in the built page) is written to NAME;
```python blocks run in one shared namespace; ```bash blocks run in bash (``set -e``) with
this checkout first on the Python path. A block preceded by ``% skip: REASON`` is not run,
and the reason must say why (only for what cannot run offline or in seconds, e.g. a
cluster address or a full MNIST training). Tests never download: the data are synthetic
or written by the page itself.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in (REPO / "docs" / "tutorials").glob("*.md") if p.name != "index.md") + [
    REPO / "docs" / "getting-started.md"]
RUNNABLE = {"python", "bash", "yaml"}
PAGE_SECONDS = 150          # a page whose examples take longer is too slow for the manual's tests

FENCE = re.compile(r"^(`{3,})([\w{}-]*)\s*$")


@dataclass
class Block:
    lang: str
    code: str
    line: int
    file: str | None = None
    skip: str | None = None


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page with their ``% file:`` / ``% skip:`` marks."""
    out: list[Block] = []
    lines = page.read_text().splitlines()
    marks: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        if line.startswith("% file:"):
            marks["file"] = line.split(":", 1)[1].strip()
        elif line.startswith("% skip:"):
            marks["skip"] = line.split(":", 1)[1].strip()
        elif m:
            fence, lang = m.group(1), m.group(2)
            end = i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            out.append(Block(lang, "\n".join(lines[i + 1:end]) + "\n", i + 1, marks.get("file"), marks.get("skip")))
            marks = {}
            i = end
        elif line.strip():
            marks = {}
        i += 1
    return out


def test_every_tutorial_page_has_examples_and_the_marks_are_used_right() -> None:
    assert len(PAGES) >= 10
    for page in PAGES:
        found = blocks(page)
        assert any(b.lang in ("python", "bash") and not b.skip for b in found), f"{page.name}: nothing runs"
        for b in found:
            assert b.lang in RUNNABLE | {"text", "console", "", "yaml"}, f"{page.name}:{b.line}: ```{b.lang}"
            if b.skip is not None:
                assert len(b.skip.split()) >= 4, f"{page.name}:{b.line}: a skip must say why"
            if b.file is not None:
                assert b.lang == "yaml" and "/" not in b.file, f"{page.name}:{b.line}: file mark on {b.lang}"


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a hung example
    raise _Timeout()


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("SPIKELOCAL_DATA", raising=False)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    start = time.monotonic()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PAGE_SECONDS)
    try:
        for b in blocks(page):
            where = f"{page.relative_to(REPO)}:{b.line}"
            if b.skip is not None:
                continue
            if b.lang == "yaml" and b.file:
                (tmp_path / b.file).write_text(b.code)
            elif b.lang == "python":
                exec(compile(b.code, where, "exec"), namespace)   # noqa: S102 - the manual's own code
            elif b.lang == "bash":
                left = max(1, PAGE_SECONDS - int(time.monotonic() - start))
                done = subprocess.run(["bash", "-e", "-c", b.code], cwd=tmp_path, capture_output=True,
                                      text=True, timeout=left)
                assert done.returncode == 0, f"{where}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    except _Timeout:
        pytest.fail(f"{page.name}: examples took more than {PAGE_SECONDS} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        import matplotlib.pyplot as plt
        plt.close("all")
    assert sys.modules.get("spikelocal") is None or Path(sys.modules["spikelocal"].__file__).is_relative_to(REPO)
