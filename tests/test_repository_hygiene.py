"""The repository speaks of the project only: no folder of one machine, no numbered work
items, no reference to a file the repository does not hold.

Scans every tracked text file (``git ls-files``). A test that writes files uses pytest's
``tmp_path`` and so names no literal folder; the patterns below are assembled from parts so
that this file does not match itself.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".json", ".csv", ".cfg", ".ini", ".sh", ""}

SLASH = "/"
MACHINE_PATH = re.compile(
    r"(?<![\w.~-])(?:" + "|".join(re.escape(SLASH + p + SLASH) for p in ("home", "tmp", "root", "work", "Users", "mnt", "scratch"))
    + r"|[A-Z]:\\\\(?:Users|Documents))")
WORK_ITEM = re.compile(r"\b(?:issue|ticket|task|work item)s?\s+#?\d+\b|(?<![\w&/#])#\d{1,4}\b(?![0-9A-Fa-f])", re.I)
MISSING_DOC = re.compile(r"\b([A-Z][A-Z_]{2,}\.md)\b")


def tracked_text_files() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = []
    for name in names:
        path = REPO / name
        if path.suffix in TEXT_SUFFIXES and path.is_file() and path.stat().st_size < 2_000_000:
            files.append(path)
    return files


def offending_lines(pattern: re.Pattern[str], allow=lambda m, line: False) -> list[str]:
    bad = []
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for m in pattern.finditer(line):
                if not allow(m, line):
                    bad.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    return bad


def test_no_folder_of_one_machine_is_named() -> None:
    assert not offending_lines(MACHINE_PATH), "\n".join(offending_lines(MACHINE_PATH))


def _colour_or_anchor(m: re.Match[str], line: str) -> bool:
    # "#000000"-style colours are caught by the hex guard; keep "#1" in "layer #1"-free prose out
    return bool(re.search(r"color|colour|fill|stroke", line, re.I)) and m.group(0).startswith("#")


def test_no_work_item_is_referred_to_by_number() -> None:
    bad = offending_lines(WORK_ITEM, _colour_or_anchor)
    assert not bad, "\n".join(bad)


def test_every_named_design_document_is_in_the_repository() -> None:
    present = {p.name for p in REPO.rglob("*.md")}

    def exists(m: re.Match[str], line: str) -> bool:
        return m.group(1) in present

    bad = offending_lines(MISSING_DOC, exists)
    assert not bad, "\n".join(bad)


def test_the_patterns_catch_what_they_are_for() -> None:
    home = SLASH + "home" + SLASH + "someone" + SLASH + "data"
    assert MACHINE_PATH.search(f"SPIKELOCAL_DATA={home}")
    assert MACHINE_PATH.search("out " + SLASH + "tmp" + SLASH + "exp6")
    assert not MACHINE_PATH.search("runs/quickstart and ../shared/data and docs/results/holistic_mnist")
    assert WORK_ITEM.search("the rules of iss" + "ue 10") and WORK_ITEM.search("see #" + "12")
    assert not WORK_ITEM.search('color="#000000"') and not WORK_ITEM.search("784-500-500-10")
    assert MISSING_DOC.search("the equations of DESIGN" + ".md")
