"""Event datasets: each on-disk format read and binned to the frames worked out by hand, and
the conventions checked against tonic's own dataset classes where they can run offline."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from spikelocal.config import DataConfig
from spikelocal.data import load_dataset
from spikelocal.data.event_frames import EventFrames
from spikelocal.data.event_writers import encode_nmnist, write_dvsgesture_file, write_shd_file
from spikelocal.data.events import read_dvsgesture, read_shd


def nmnist_bytes(events: list[tuple[int, int, int, int]]) -> bytes:
    """(x, y, p, t_us) -> the 40-bit ATIS records of N-MNIST, packed by hand."""
    out = bytearray()
    for x, y, p, t in events:
        out += bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


def data_cfg(root: Path, dataset: str, steps: int, **events) -> DataConfig:
    return DataConfig(dataset=dataset, root=str(root), download=False, steps=steps, events=events)


def test_nmnist_bytes_bin_to_the_expected_frames(tmp_path: Path) -> None:
    events = [(1, 2, 1, 500), (33, 0, 0, 1500), (1, 2, 1, 1700), (5, 6, 0, 70_000), (5, 6, 0, 2999),
              (9, 9, 1, 1000)]
    for split in ("Train", "Test"):
        (tmp_path / "NMNIST" / split / "7").mkdir(parents=True)
        (tmp_path / "NMNIST" / split / "7" / "00001.bin").write_bytes(nmnist_bytes(events))
    data = load_dataset(data_cfg(tmp_path, "nmnist", 3, window_ms=1.0), seed=0)
    assert data.input_shape == (2, 34, 34) and data.train_y.tolist() == [7]
    frames = data.train_x.dense()[0]                    # [T, C, H, W] counts
    expected = torch.zeros(3, 2, 34, 34, dtype=torch.uint8)
    expected[0, 1, 2, 1] = 1                           # t = 0.5 ms, ON, y = 2, x = 1
    expected[1, 0, 0, 33] = 1                          # t = 1.5 ms, OFF
    expected[1, 1, 2, 1] = 1                           # t = 1.7 ms
    expected[2, 0, 6, 5] = 1                           # t = 2.999 ms; t = 70 ms is beyond T = 3
    expected[1, 1, 9, 9] = 1                           # t = 1 ms exactly opens bin 1
    assert torch.equal(frames, expected)


def test_library_writer_matches_hand_packed_bytes() -> None:
    ev = np.array([(3, 4, 1, 123_456), (0, 33, 0, 8_000_000)])
    by_hand = nmnist_bytes([tuple(int(v) for v in row) for row in ev])
    assert encode_nmnist(ev[:, 0], ev[:, 1], ev[:, 3], ev[:, 2]) == by_hand


def test_counts_polarity_merge_and_downsampling(tmp_path: Path) -> None:
    events = [(0, 0, 1, 100), (1, 1, 0, 200), (33, 33, 1, 300)]
    for split in ("Train", "Test"):
        (tmp_path / "NMNIST" / split / "3").mkdir(parents=True)
        (tmp_path / "NMNIST" / split / "3" / "a.bin").write_bytes(nmnist_bytes(events))
    cfg = data_cfg(tmp_path, "nmnist", 2, window_ms=1.0, size=[17, 17], polarity="merge", binarize=False)
    data = load_dataset(cfg, seed=0)
    assert data.input_shape == (1, 17, 17)
    frames = data.train_x.dense()[0]
    assert frames[0, 0, 0, 0] == 2 and frames[0, 0, 16, 16] == 1 and frames.sum() == 3
    chunk = next(data.train_x.chunks(2, binary=False))
    assert chunk[0, 0, 0, 0, 0] == 2.0
    assert next(data.train_x.chunks(2, binary=True))[0, 0, 0, 0, 0] == 1.0


def write_gestures(root: Path, users: int, labels: int = 11, events: int = 6, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for split, folder in (("train", "ibmGestureTrain"), ("test", "ibmGestureTest")):
        for u in range(users):
            for label in range(labels):
                t = np.sort(rng.integers(0, 40, events)) + 5000          # ms, not starting at 0
                write_dvsgesture_file(root / "DVSGesture" / folder / f"user{u + 1:02d}_led" / f"{label}.npy",
                                      rng.integers(0, 128, events), rng.integers(0, 128, events),
                                      rng.integers(0, 2, events), t)


def test_dvsgesture_layout_labels_and_first_event_start(tmp_path: Path) -> None:
    folder = tmp_path / "DVSGesture"
    for split in ("ibmGestureTrain", "ibmGestureTest"):
        write_dvsgesture_file(folder / split / "user01_natural" / "4.npy",
                              np.array([127, 4, 64]), np.array([0, 127, 64]), np.array([1, 0, 1]),
                              np.array([1000, 1000, 1002]))
        write_dvsgesture_file(folder / split / "user02_led" / "10.npy",
                              np.array([1]), np.array([1]), np.array([0]), np.array([7]))
    data = load_dataset(data_cfg(tmp_path, "dvsgesture", 3, window_ms=1.0, size=[32, 32]), seed=0)
    assert data.input_shape == (2, 32, 32) and len(data.classes) == 11
    assert data.train_y.tolist() == [4, 10]
    frames = data.train_x.dense()
    assert frames[0, 0, 1, 0, 31] == 1 and frames[0, 0, 0, 31, 1] == 1     # x 127 -> 31, 4 -> 1
    assert frames[0, 2, 1, 16, 16] == 1 and frames[0].sum() == 3         # t = 1002 ms is bin 2
    assert frames[1, 0, 0, 0, 0] == 1                                    # a lone event is bin 0


def test_dvsgesture_events_match_tonics_reader(tmp_path: Path) -> None:
    import tonic.datasets

    write_gestures(tmp_path, users=10)                  # 110 files: tonic wants >= 100 and the archive
    (tmp_path / "DVSGesture" / "ibmGestureTrain.tar.gz").write_bytes(b"")
    ds = tonic.datasets.DVSGesture(save_to=str(tmp_path), train=True)
    assert len(ds) == 110
    for i in (0, 57, 109):
        theirs, label = ds[i]
        ours = read_dvsgesture(Path(ds.data[i]))
        assert label == int(Path(ds.data[i]).stem)
        for field in ("x", "y", "p", "t"):
            assert np.array_equal(ours[field], theirs[field].astype(np.int64)), field


def test_shd_matches_tonic_and_bins_units(tmp_path: Path) -> None:
    import tonic.datasets

    times = [np.array([0.0005, 0.0015, 0.0016, 0.5]), np.array([0.002])]
    units = [np.array([0, 699, 699, 3]), np.array([350])]
    for split in ("train", "test"):
        write_shd_file(tmp_path / "SHD" / f"shd_{split}.h5", times, units, [3, 19])
    (tmp_path / "SHD" / "shd_train.h5.zip").write_bytes(b"")
    theirs = tonic.datasets.SHD(save_to=str(tmp_path), train=True)
    ours = list(read_shd(tmp_path / "SHD" / "shd_train.h5"))
    assert len(theirs) == len(ours) == 2
    for (ev, label), i in zip(ours, range(2)):
        t_ev, t_label = theirs[i]
        assert label == int(t_label)
        assert np.array_equal(ev["x"], t_ev["x"]) and np.allclose(ev["t"], t_ev["t"], atol=1.0)  # tonic truncates to whole us
    data = load_dataset(data_cfg(tmp_path, "shd", 3, window_ms=1.0, binarize=False), seed=0)
    assert data.input_shape == (700,) and len(data.classes) == 20
    assert data.train_y.tolist() == [3, 19]
    frames = data.train_x.dense()
    assert frames.shape == (2, 3, 700)
    assert frames[0, 0, 0] == 1 and frames[0, 1, 699] == 2 and frames[0].sum() == 3
    assert frames[1, 2, 350] == 1
    half = load_dataset(data_cfg(tmp_path, "shd", 3, window_ms=1.0, size=[350]), seed=0)
    assert half.input_shape == (350,) and half.train_x.dense()[0, 1, 349] == 2


def test_event_frames_indexing_and_chunks_agree_with_dense() -> None:
    rng = np.random.default_rng(1)
    dense = [(rng.random((5, 2, 3, 4)) < 0.2) * rng.integers(1, 4, (5, 2, 3, 4)) for _ in range(7)]
    frames = EventFrames.from_dense(iter(dense), (2, 3, 4), 5)
    full = torch.from_numpy(np.stack(dense).astype(np.uint8))
    assert torch.equal(frames.dense(), full)
    for key in (torch.tensor([6, 0, 3]), slice(2, 5), slice(None, None, 2), [4]):
        want = full[key] if not isinstance(key, list) else full[torch.tensor(key)]
        assert torch.equal(frames[key].dense(), want)
    batch = frames[torch.tensor([5, 1])]
    chunks = list(batch.chunks(2, binary=False))
    assert [c.shape[0] for c in chunks] == [2, 2, 1]
    stacked = torch.cat(chunks).transpose(0, 1)            # [B, T, ...]
    assert torch.equal(stacked, full[[5, 1]].float())
    assert frames.shape == (7, 2, 3, 4) and len(frames[3:3]) == 0
