"""The random streams of a run are named once, in spikelocal.seeds, and never collide."""
import ast
from pathlib import Path

import spikelocal
from spikelocal import seeds

PACKAGE = Path(spikelocal.__file__).parent


def test_named_offsets_are_distinct():
    by_value: dict[int, list[str]] = {}
    for name, value in seeds.OFFSETS.items():
        by_value.setdefault(value, []).append(name)
    shared = {v: names for v, names in by_value.items() if len(names) > 1}
    assert not shared, f"seed offsets collide: {shared}"


def test_offsets_table_lists_every_offset_constant():
    constants = {n: v for n, v in vars(seeds).items() if n.isupper() and isinstance(v, int)}
    not_offsets = {n for n in constants if n.endswith("_MULTIPLIER") or n.startswith("TASK_")
                   or n == "QUANTILE_SUBSAMPLE"}
    assert set(seeds.OFFSETS) == set(constants) - not_offsets
    assert all(constants[n] == v for n, v in seeds.OFFSETS.items())


def test_alignment_no_longer_shares_the_noise_stream():
    assert seeds.ALIGNMENT != seeds.CONDITION_NOISE


def test_formulas_keep_their_values():
    # same seed, same numbers: the formulas the trainer and encoders always used
    assert seeds.shuffle_seed(3, 2) == 3 * 65537 + 2
    assert seeds.batch_seed(3, 1, 4) == ((3 * 7919 + 1) * 104729 + 4) % (2**63)
    assert seeds.spike_encoder_seed(5, 2) == 5 * 1_000_003 + 2
    assert seeds.eprop_feedback_seed(5) == 5 * 7919 + 4099


def test_seeds_is_a_leaf_module():
    tree = ast.parse((PACKAGE / "seeds.py").read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imports)


def test_no_literal_seed_offsets_outside_seeds():
    """Every offset is used by name: no module repeats one of the numbers."""
    numbers = {v for v in seeds.OFFSETS.values() if v > 10_000}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "seeds.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in numbers and type(node.value) is int:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value}")
    assert not offenders, offenders
