"""The HTML report: self-contained, and every figure loads in headless Chromium."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from spikelocal.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# appended by the test only (the report itself has no script): after the load event,
# count the images that decoded to a real bitmap
CHECK = ("<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
         "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
         "var p=document.createElement('pre');p.textContent='FIGURES '+ok+'/'+im.length;"
         "document.body.appendChild(p);});</script>")


def loaded_figures(html: str, tmp: Path) -> tuple[int, int]:
    page = tmp / "check.html"
    page.write_text(html.replace("</body>", CHECK + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120)
    found = re.search(r"FIGURES (\d+)/(\d+)", result.stdout)
    assert found, f"chromium gave no result (rc {result.returncode}): {result.stderr[-400:]}"
    return int(found.group(1)), int(found.group(2))


def test_report_is_self_contained(tiny_run):
    assert main(["report", str(tiny_run)]) == 0
    html = (tiny_run / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.count("<img ") == 8                      # every plot but angles (not logged)
    for section in ("Metrics per epoch", "Firing statistics", "Resolved configuration", "synchrony"):
        assert section in html
    assert not list(tiny_run.glob(".report*"))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_every_figure_loads_in_chromium(tiny_run, tmp_path):
    assert main(["report", str(tiny_run)]) == 0
    html = (tiny_run / "report.html").read_text()
    ok, total = loaded_figures(html, tmp_path)
    assert total == 8 and ok == total
    # the check can fail: a corrupted figure does not count as loaded
    broken = re.sub(r"base64,[A-Za-z0-9+/]{40}", "base64,AAAA" + "B" * 36, html, count=1)
    ok, total = loaded_figures(broken, tmp_path)
    assert total == 8 and ok == 7
