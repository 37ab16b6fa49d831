"""The run directory: everything a finished run leaves, and nothing else is needed later.

Layout::

    RUN/
      config.yaml                  the resolved experiment (full network), as validated
      status.json                  {"state": running|finished|failed, "epoch", "version", ...}
      metrics.csv                  one row per finished epoch
      summary.json                 final figures (written when the run finishes)
      data.json                    {"input_shape", "classes"}: what the dataset had at run start
      checkpoints/last.safetensors network, optimiser, rule and trainer state (atomic)
      log.txt                      one line per epoch, and the error if the run failed

Later stages (plots, conversion, export) read a run directory through :func:`open_run`.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from .version import __version__
from .checkpoint import check_shapes, load_checkpoint
from .config import ExperimentConfig, input_spec, load_resolved
from .core.network import Network
from .errors import ConfigError, RunDirError
from .outputs import append_line, atomic_write_text

CONFIG = "config.yaml"
STATUS = "status.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
DATA = "data.json"
CHECKPOINT = "checkpoints/last.safetensors"
LOG = "log.txt"


def default_out(config: ExperimentConfig, root: Path = Path("runs")) -> Path:
    """``runs/<name>``, or ``runs/<name>-2``, ``-3`` ... if taken: never an existing run."""
    base = root / check_run_name(config.name or "run")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def check_run_name(name: str) -> str:
    """A run name is one folder name: it can never lead out of the runs folder."""
    if name in (".", "..") or not name.strip() or any(c in name for c in "/\\\0") or name.startswith("~"):
        raise ConfigError(f"name: {name!r} is not a plain folder name (no '/', '\\', '..' or '~'); "
                          "it names the folder under runs/")
    return name


def prepare_new(path: Path, config: ExperimentConfig) -> None:
    """Create a fresh run directory; refuse one that already holds a run."""
    path = Path(path)
    if path.is_symlink() and not path.is_dir():
        raise RunDirError(f"{path}: is a broken symbolic link; choose another --out")
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a folder; choose another --out")
    if (path / CONFIG).exists() or (path / STATUS).exists():
        raise RunDirError(f"{path}: already holds a run; pass --resume to continue it or choose another --out")
    if path.exists() and any(path.iterdir()):
        raise RunDirError(f"{path}: exists and is not empty; choose another --out")
    try:
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        atomic_write_text(path / CONFIG, config.to_yaml())
    except OSError as exc:
        raise RunDirError(f"{path}: cannot write the run directory ({exc.strerror})") from None
    write_status(path, "running", 0)


def write_status(path: Path, state: str, epoch: int, **extra: Any) -> None:
    status = {"state": state, "epoch": epoch, "version": __version__, **extra}
    atomic_write_text(path / STATUS, json.dumps(status, indent=2) + "\n")


def _read_json(file: Path) -> dict[str, Any]:
    """A JSON object from a run file; anything else is a one-line RunDirError naming it."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON and bad UTF-8
        raise RunDirError(f"{file}: unreadable ({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{file}: unreadable (expected a JSON object, got {type(data).__name__})")
    return data


def read_status(path: Path) -> dict[str, Any]:
    if not (path / STATUS).exists():
        raise RunDirError(f"{path}: not a spikelocal run directory (no {STATUS})")
    status = _read_json(path / STATUS)
    if not isinstance(status.get("version", ""), str) or not isinstance(status.get("epoch", 0), int):
        raise RunDirError(f"{path / STATUS}: unreadable (version must be text and epoch a whole number)")
    return status


def read_summary(path: Path) -> dict[str, Any]:
    """The run's summary.json, or {} when the run has not finished."""
    return _read_json(path / SUMMARY) if (path / SUMMARY).is_file() else {}


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path / METRICS, buf.getvalue())


def read_metrics(path: Path) -> list[dict[str, float]]:
    rows = []
    try:
        with open(path / METRICS, encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                if None in row or None in row.values():
                    raise RunDirError(f"{path / METRICS}:{n}: unreadable (the row does not match the header)")
                try:
                    rows.append({k: float(v) for k, v in row.items()})
                except ValueError as exc:
                    raise RunDirError(f"{path / METRICS}:{n}: unreadable ({exc})") from None
    except FileNotFoundError:
        raise RunDirError(f"{path}: no {METRICS} (the run has not finished an epoch)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunDirError(f"{path / METRICS}: unreadable ({exc})") from None
    return rows


def append_log(path: Path, line: str) -> None:
    append_line(path / LOG, line)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    atomic_write_text(path / SUMMARY, json.dumps(summary, indent=2) + "\n")


def open_run(path: str | os.PathLike[str], require_finished: bool = False) -> ExperimentConfig:
    """Check that ``path`` is a run directory of this version and return its config."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path}: no such run directory")
    status = read_status(path)
    if str(status.get("version", "")).split(".")[0] != __version__.split(".")[0]:
        raise RunDirError(f"{path}: written by spikelocal {status.get('version')}, this is {__version__}")
    if require_finished and status.get("state") != "finished":
        raise RunDirError(f"{path}: the run is {status.get('state')} (epoch {status.get('epoch')}), not finished; "
                          "resume it with 'spikelocal run ... --resume --out' first")
    return load_resolved(path / CONFIG)


def load_network(path: str | os.PathLike[str]) -> tuple[ExperimentConfig, Network]:
    """Rebuild a run's trained network from its directory alone: (config, network)."""
    path = Path(path)
    config = open_run(path)
    tensors, _ = load_checkpoint(path / CHECKPOINT)
    shape, classes = read_data_spec(path, config)
    net = Network.from_config(config.network, shape, classes, config.seed)
    state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    check_shapes(path / CHECKPOINT, net.state_dict(), state, "network")
    net.load_state_dict(state)
    return config, net


def write_data_spec(path: Path, input_shape: tuple[int, ...], classes: int) -> None:
    """Record the input shape and class count the run's dataset had, so that later stages
    rebuild the network from the run directory without loading (or guessing) the data."""
    spec = {"input_shape": list(input_shape), "classes": classes}
    atomic_write_text(path / DATA, json.dumps(spec, indent=2) + "\n")


def read_data_spec(path: Path, config: ExperimentConfig) -> tuple[tuple[int, ...], int]:
    """(input shape, classes) of a run: from ``data.json``; for run directories written before
    it existed, from the config's dataset (:func:`spikelocal.config.input_spec`)."""
    try:
        spec = json.loads((path / DATA).read_text())
    except FileNotFoundError:
        return input_spec(config.data)
    except (OSError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path / DATA}: unreadable ({exc})") from None
    try:
        return tuple(int(s) for s in spec["input_shape"]), int(spec["classes"])
    except (KeyError, TypeError, ValueError):
        raise RunDirError(f"{path / DATA}: expected {{\"input_shape\": [...], \"classes\": N}}") from None


def run_path(run: Any) -> Path:
    """The run directory of ``run``: a path, or an object with ``.path`` (a
    :class:`spikelocal.Run`). A Run trained without a directory (``out=None``) has none."""
    path = getattr(run, "path", run)
    if path is None:
        raise RunDirError("this Run has no run directory (it was trained with out=None); "
                          "train it with out=DIR to plot, convert or export it")
    return Path(path)
