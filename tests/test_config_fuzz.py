"""Property-based fuzz of the config loader: any file gives a valid config or a one-line
error with status 2, within a time bound; no other exception ever escapes."""
from __future__ import annotations

import time
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikelocal.config import load_experiment
from spikelocal.errors import SpikelocalError

from conftest import tiny_config_dict

#: the longest single load seen in this session (reported by the last test)
LONGEST = {"seconds": 0.0, "runs": 0}
TIME_BOUND = 5.0

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["1e6", ".inf", "-.inf", ".nan", "2**70", "../x", "local", "lif", "dense", "1e-3",
                     "mnist", "synthetic", "rate", "", "~"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


BASE = tiny_config_dict()
PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated_configs(draw) -> str:
    """The tiny experiment with a few keys replaced by arbitrary values, dumped as YAML."""
    import copy

    cfg = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        node = cfg
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue
    return yaml.safe_dump(cfg, allow_unicode=True)


yaml_fragments = st.lists(st.sampled_from(
    ["a:", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", ":", "&x ", "*x", "!!str ", "!!binary ", "? ",
     "name", "seed: ", "network:", "layers:", "rule:", "1e9", "'", '"', "#", "---", "...", "|", ">",
     "\t", "\\", "%YAML 1.2\n", "<<: ", "\x00", "\ud7ff", "é"]), max_size=40).map("".join)

documents = st.one_of(mutated_configs(), yaml_fragments, st.text(max_size=200),
                      st.binary(max_size=200))


def check_one(tmp_path: Path, content) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    t0 = time.perf_counter()
    try:
        load_experiment(path)
    except SpikelocalError as exc:
        assert exc.exit_code == 2
        message = str(exc)
        assert message and "\n" not in message, message
    finally:
        elapsed = time.perf_counter() - t0
        LONGEST["seconds"] = max(LONGEST["seconds"], elapsed)
        LONGEST["runs"] += 1
    assert elapsed < TIME_BOUND


@settings(max_examples=1500, deadline=TIME_BOUND * 1000, database=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])
@given(content=documents)
def test_any_file_is_a_config_or_one_line_error(tmp_path, content):
    check_one(tmp_path, content)


override_keys = st.one_of(st.sampled_from([".".join(map(str, p)) for p in PATHS]), st.text(max_size=15),
                          st.sampled_from(["0\n0", "a\rb", "seed\n", "rule.name", "name"]))
override_values = st.one_of(st.text(max_size=15), values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()))


@settings(max_examples=500, deadline=TIME_BOUND * 1000, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sets=st.lists(st.tuples(override_keys, override_values).map("=".join), max_size=3))
def test_any_set_override_is_a_config_or_one_line_error(tmp_path, sets):
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(BASE))
    t0 = time.perf_counter()
    try:
        load_experiment(path, sets)
    except SpikelocalError as exc:
        assert exc.exit_code == 2 and "\n" not in str(exc), str(exc)
    finally:
        elapsed = time.perf_counter() - t0
        LONGEST["seconds"] = max(LONGEST["seconds"], elapsed)
        LONGEST["runs"] += 1
    assert elapsed < TIME_BOUND


def test_fuzz_report(capsys):
    """Prints the fuzzer's run count and its longest case (read with -s)."""
    with capsys.disabled():
        print(f"\nconfig fuzz: {LONGEST['runs']} runs, longest {LONGEST['seconds'] * 1000:.1f} ms")
