"""One self-contained HTML page per run: figures embedded as PNG data URIs, the metrics
table, the firing statistics and the resolved config. It needs no server, no network and no
script: open ``RUN/report.html`` in any browser."""
from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Optional

from ..version import __version__
from ..outputs import atomic_write_text
from .rundata import RunData

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
     padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.8em}
.key{display:inline-block;margin-right:2em}.wide{overflow-x:auto;max-width:100%}
"""

CAPTIONS = {
    "learning": "Accuracy of the output and of every hidden layer's fixed random readout per epoch, and the local losses.",
    "time_accuracy": "Accuracy of each readout when spikes are counted only up to a time step: how early each layer is right.",
    "raster": "Spikes of the first test samples; neurons sorted by preferred class (bands), samples one after "
              "another; grey where more neurons than pixel rows share a row and only some of them fired.",
    "rates": "Population firing rate per time step (mean ± sd over the recorded samples); dashed: input spikes.",
    "membrane": "Membrane potential before reset (threshold dashed, triangles: spikes) and synaptic current of three neurons.",
    "rate_hist": "Distribution of per-neuron firing rates over the recorded samples.",
    "isi": "Inter-spike intervals pooled over neurons and samples, and the per-neuron coefficient of variation.",
    "weights": "Distribution of each layer's trained weights.",
    "angles": "Angle between each layer's update and the backprop gradient (and feedback vs forward weights).",
}


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _metrics_table(data: RunData) -> str:
    rows = data.rows
    keys = [k for k in rows[0] if k not in ("lr",)]
    return _table(keys, [[r[k] for k in keys] for r in rows])


def _stats_table(data: RunData) -> str:
    if not data.stats:
        return "<p>No spiking layer was recorded.</p>"
    header = ["layer", "neurons", "rate (Hz)", "silent", "saturated", "ISI mean (ms)", "CV of ISI",
              "Fano factor", "synchrony χ²", "selectivity"]
    rows = []
    for l, st in data.stats.items():
        s = st.summary()
        rows.append([f"layer {l}", s["neurons"], s["rate_hz_mean"], f"{s['silent_fraction']:.1%}",
                     f"{s['saturated_fraction']:.1%}",
                     None if s["isi_mean_s"] is None else s["isi_mean_s"] * 1e3,
                     s["cv_mean"], s["fano_mean"], s["synchrony"], s["selectivity_mean"]])
    rec = data.recording
    acc = rec.readout_accuracy
    n = acc.shape[0]
    steps_header = ["spikes counted up to"] + ["output" if i == n - 1 else f"layer {i + 1} readout" for i in range(n)]
    acc_rows = [[f"{(t + 1) * rec.dt * 1e3:g} ms"] + [float(a) for a in acc[:, t]] for t in range(acc.shape[1])]
    return (_table(header, rows) +
            f"<p>Over {len(rec.labels)} recorded test samples at epoch {rec.epoch} (dt = {rec.dt * 1e3:g} ms, "
            f"{rec.steps} steps). Readout accuracy by time step over {rec.accuracy_samples} samples:</p>" +
            _table(steps_header, acc_rows))


def render_report(data: RunData, figures: dict[str, bytes]) -> str:
    """The HTML text; ``figures`` maps plot names to PNG bytes."""
    title = f"spikelocal report: {data.label}"
    s = data.summary
    last = data.rows[-1]
    keys = [("test accuracy", last.get("test_acc")), ("best test accuracy", s.get("best_test_accuracy")),
            ("epochs", int(last["epoch"])), ("rule", data.config.rule.name),
            ("dataset", data.config.data.dataset), ("training time (s)", s.get("train_seconds"))]
    key_html = "".join(f'<span class="key"><b>{html.escape(k)}</b>: {_fmt(v)}</span>' for k, v in keys)
    figs = []
    for name, png in figures.items():
        b64 = base64.b64encode(png).decode("ascii")
        figs.append(f'<figure id="fig-{name}"><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}">'
                    f"<figcaption><b>{html.escape(name)}</b>: {html.escape(CAPTIONS.get(name, ''))}</figcaption></figure>")
    summary_json = html.escape(json.dumps(s, indent=2)) if s else "(no summary.json)"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{key_html}</p>
<h2>Figures</h2>
{''.join(figs) or '<p>No figures.</p>'}
<h2>Metrics per epoch</h2>
{_metrics_table(data)}
<h2>Firing statistics</h2>
{_stats_table(data)}
<h2>Summary</h2>
<pre>{summary_json}</pre>
<h2>Resolved configuration</h2>
<pre>{html.escape(data.config.to_yaml())}</pre>
<p style="color:#888;font-size:.8em">written by spikelocal {__version__}</p>
</body></html>
"""


def write_report(data: RunData, out: Optional[Path] = None, layers: Optional[list[int]] = None) -> Path:
    """Draw every figure the run supports and write the page atomically (RUN/report.html)."""
    from . import plots

    names = sorted(plots.expand_names(["all"], data), key=lambda n: list(CAPTIONS).index(n))
    figures = plots.make_figures(data, names, layers)
    try:
        pngs = {name: plots.figure_bytes(fig, "png") for name, fig in figures.items()}
    finally:
        for fig in figures.values():
            plots.plt.close(fig)
    out = Path(out) if out is not None else Path(data.run_dir) / "report.html"
    atomic_write_text(out, render_report(data, pngs))
    return out
