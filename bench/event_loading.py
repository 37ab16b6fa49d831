"""Time loading and binning an N-MNIST-format file set, first from the files, then from the cache.

Writes N synthetic recordings in the real N-MNIST layout and format (ROOT/NMNIST/Train/<digit>/
*.bin, about 4,000 events over 300 ms each, like the real files) into a temporary folder, then
times ``load_dataset`` with DECOLLE's binning (1 ms bins, T = 300, 2 x 34 x 34) twice: the first
call reads and bins every file and writes the cache, the second reads the cache.

    python bench/event_loading.py                 # 900 training + 100 test samples: 1,000 files
    python bench/event_loading.py --train 5000 --keep nmnist_bench

Timings are wall-clock on whatever CPU runs it (one torch thread); on a shared machine they vary.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from spikelocal.config import DataConfig
from spikelocal.data import load_dataset
from spikelocal.data.event_writers import synthetic_nmnist


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=900, help="training samples")
    ap.add_argument("--test", type=int, default=100, help="test samples")
    ap.add_argument("--events", type=int, default=4000, help="events per sample")
    ap.add_argument("--window-ms", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--keep", type=Path, help="write the files here and keep them (default: a temp folder)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    root = args.keep or Path(tempfile.mkdtemp(prefix="spikelocal-events-"))
    try:
        shutil.rmtree(root / "NMNIST", ignore_errors=True)
        t0 = time.perf_counter()
        synthetic_nmnist(root, args.train, args.test, events=args.events)
        write_s = time.perf_counter() - t0
        cfg = DataConfig(dataset="nmnist", root=str(root), download=False, steps=args.steps,
                         events={"window_ms": args.window_ms})
        t0 = time.perf_counter()
        data = load_dataset(cfg, seed=0)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = load_dataset(cfg, seed=0)
        cached_s = time.perf_counter() - t0
        if not (torch.equal(torch.from_numpy(data.train_x.index), torch.from_numpy(again.train_x.index))
                and torch.equal(data.train_y, again.train_y)):
            raise SystemExit("the cached tensors differ from the freshly binned ones")
        cache_mb = sum(p.stat().st_size for p in (root / "NMNIST" / "cache").glob("*.npz")) / 2**20
        print(json.dumps({
            "samples": args.train + args.test, "events_per_sample": args.events,
            "bins": [args.steps, *data.input_shape], "window_ms": args.window_ms,
            "write_files_s": round(write_s, 2), "first_load_s": round(first_s, 2),
            "cached_load_s": round(cached_s, 3), "cache_MiB": round(cache_mb, 1),
            "nonzero_bins_per_sample": round(len(data.train_x.index) / len(data.train_x), 1),
        }, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
