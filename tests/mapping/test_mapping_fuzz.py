"""Property-based fuzzing (hypothesis) of every way a mapping reaches the bridge: mutations of
``mappings/default.yaml`` at the structure level (a value replaced by a wrong type, a huge number,
NaN/inf, a string that reads as one, unicode, deep nesting; keys dropped or added) and at the
text/byte level (bytes flipped, inserted, cut, binary garbage, aliases), through
:func:`load_mapping` and ``vjbridge check`` in-process.

The property: nothing but :class:`MappingError` ever leaves ``load_mapping`` (``check`` exits 0 or
1 with lines naming the file, never a traceback), within a bounded time per case. Deterministic in
CI: ``derandomize=True`` (the examples come from a hash of the test, not a random seed).
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.errors import MappingError
from bridge.mapping.validate import Mapping, load_mapping, validate

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "mappings" / "default.yaml"
DEFAULT_TEXT = DEFAULT.read_bytes()
DEFAULT_RAW = yaml.safe_load(DEFAULT_TEXT)
SECONDS_PER_CASE = 2.0  # far above the ~5 ms a case takes: a hang or a blow-up, not a slow case

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


#: a third each: the numbers that broke the validator, strings that read as numbers or are odd,
#: and any other type (hypothesis' one_of picks its branches evenly)
hostile_values = st.one_of(
    st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 63, 1e308, -1e308, 5e-324, 0, -0.0,
                     math.nan, math.inf, -math.inf]),
    st.sampled_from(["nan", "NaN", ".nan", "inf", "-inf", ".inf", "1e400", "0x10", "", " ", "\x00",
                     "/vjbridge/ü", "名前", "🎛️", "\ud7ff", "a" * 5000, "127.0.0.1:7000"]),
    st.one_of(st.none(), st.booleans(), st.integers(),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
              st.lists(st.integers(), max_size=5),
              st.dictionaries(st.text(max_size=8), st.integers(), max_size=4),
              st.integers(min_value=50, max_value=400).map(nested)),
)


def _get(node, path):
    for part in path:
        node = node[part]
    return node


def paths(node, prefix=()):
    """Every (path to a value) in a parsed YAML tree."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


ALL_PATHS = list(paths(DEFAULT_RAW))
#: paths to scalars (numbers, strings, booleans): where a wrong value reaches the value checks
LEAF_PATHS = [p for p in ALL_PATHS if p and not isinstance(_get(DEFAULT_RAW, p), (dict, list))]


def mutate(raw, path, how, value):
    raw = copy.deepcopy(raw)
    if not path:
        return value
    parent = raw
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[str(value)[:20] or "x"] = value
    elif how == "add":
        parent.append(value)
    return raw


def assert_only_mapping_error(call):
    t0 = time.monotonic()
    try:
        result = call()
    except MappingError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        assert all(len(p) < 2000 for p in exc.problems), "a problem line too long to read"
        result = exc
    assert time.monotonic() - t0 < SECONDS_PER_CASE
    return result


@FUZZ
@given(path=st.one_of(st.sampled_from(LEAF_PATHS), st.sampled_from(ALL_PATHS)),
       how=st.sampled_from(["replace", "replace", "delete", "add"]),
       value=hostile_values)
def test_structural_mutations_give_only_mapping_errors(tmp_path_factory, path, how, value):
    raw = mutate(DEFAULT_RAW, path, how, value)
    before = copy.deepcopy(raw)
    # in-memory: validate() must not raise anything else, nor edit its input
    result = assert_only_mapping_error(lambda: validate(raw, source="fuzz"))
    assert raw == before or _has_nan(before), "validate() changed its input"
    if isinstance(result, Mapping):
        assert all(math.isfinite(r["gamma"]) for r in result.routes)
    # through a file, as the bridge reads it
    path_ = tmp_path_factory.mktemp("fuzz") / "m.yaml"
    path_.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert_only_mapping_error(lambda: load_mapping(path_))


def _has_nan(x) -> bool:  # nan != nan: the equality check above cannot see through it
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, list):
        return any(_has_nan(v) for v in x)
    return False


SNIPPETS = [b"\x00", b"\xff\xfe", b"\t", b": ", b"- ", b"{", b"[", b"]", b"}", b"&a ", b"*a",
            b"!!python/object:os.system", b"!!binary", b"<<: *a", b"---\n", b"...\n", b"%YAML 1.1\n",
            b"1" * 400, b".nan", b"-.inf", b"\xe2\x82", "名".encode(), b"\n" * 3, b"? ", b"|\n",
            b"[" * 2000, b"&x [*x]", b"!!set {a}", b"2001-13-45", b"0o777", b"~"]


@FUZZ
@given(ops=st.lists(st.tuples(st.sampled_from(["flip", "insert", "cut", "dup"]),
                              st.integers(min_value=0, max_value=len(DEFAULT_TEXT)),
                              st.integers(min_value=0, max_value=255),
                              st.sampled_from(SNIPPETS)), min_size=1, max_size=6))
def test_text_and_byte_mutations_give_only_mapping_errors(tmp_path_factory, ops):
    data = bytearray(DEFAULT_TEXT)
    for op, at, byte, snippet in ops:
        at = min(at, len(data))
        if op == "flip" and data:
            data[min(at, len(data) - 1)] = byte
        elif op == "insert":
            data[at:at] = snippet
        elif op == "cut":
            del data[at:at + byte]
        elif op == "dup":
            data[at:at] = data[at:at + byte]
    path = tmp_path_factory.mktemp("fuzz") / "m.yaml"
    path.write_bytes(bytes(data))
    assert_only_mapping_error(lambda: load_mapping(path))


@FUZZ
@given(data=st.binary(min_size=1, max_size=2000))
def test_binary_files_give_one_problem(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "m.bin"
    path.write_bytes(data)
    assert_only_mapping_error(lambda: load_mapping(path))


@pytest.mark.parametrize("case, text, limit", [
    ("400-digit number", "rate: " + "9" * 400 + "\nroutes: [{signal: rms, osc: {address: /a}}]\n",
     "an integer of 400 digits"),
    ("400-digit range", "routes: [{signal: rms, osc: {address: /a}, in: [0, " + "9" * 400 + "]}]\n",
     "expected [low, high]"),
    ("5000-digit number", "rate: " + "9" * 5000 + "\nroutes: [{signal: rms}]\n", "not a usable"),
    ("deep nesting", "routes: " + "[" * 5000 + "]" * 5000 + "\n", "nesting depth"),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n"
        for i in range(1, 10)) + "routes: [{signal: rms, osc: {address: /a}}]\nrate: *a9\n",
     "limit: YAML nodes"),
    ("recursive alias", "routes: &r [*r]\n", "refers to itself"),
    ("too many routes", "routes:\n  - &r {signal: rms}\n" + "  - *r\n" * 3000, "limit: routes"),
    ("bundle too big", "routes:\n" + "".join(
        f"  - {{signal: rms, osc: {{address: /{'x' * 60}/{i}}}}}\n" for i in range(200)),
     "limit: bundle size"),
    ("network bundle", "osc: {far: {host: 10.0.0.9}}\nroutes:\n" + "".join(
        f"  - {{signal: rms, osc: {{address: /vjbridge/signal{i}}}}}\n" for i in range(60)),
     "at most 1,472"),
    ("python tag", "!!python/object/apply:os.system [echo hi]\n", "not valid YAML"),
    ("NUL in a host", 'osc: {t: {host: "desk\\0.local"}}\nroutes: [{signal: rms, osc: {address: /a}}]\n',
     "osc.t.host: 'desk\\x00.local' is not a host name or IP address"),
    ("space in a host", "os2l: {q: {host: qlc plus}}\nroutes: [{signal: kick, os2l: {event: beat}}]\n",
     "os2l.q.host: 'qlc plus' is not a host name"),
    ("300-character label", "dmx: {d: {host: " + "a" * 300 + ", fixtures: {}}}\nroutes: []\n",
     "dmx.d.host: '" + "a" * 300 + "' is not a host name"),
    ("binary", "\udcff", "not a UTF-8 text file"),
])
def test_known_hostile_mappings_name_what_is_wrong(tmp_path, case, text, limit):
    path = tmp_path / "m.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    result = assert_only_mapping_error(lambda: load_mapping(path))
    assert isinstance(result, MappingError), case
    assert any(limit in p for p in result.problems), result.problems


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    from bridge.mapping.limits import MAX_MAPPING_BYTES

    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * 10_000_000 + "\n")
    t0 = time.monotonic()
    with pytest.raises(MappingError, match="limit: file size"):
        load_mapping(path)
    assert time.monotonic() - t0 < 0.5
    assert MAX_MAPPING_BYTES < 10_000_000


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    import os

    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    with pytest.raises(MappingError, match="not a regular file"):
        load_mapping(path)


def test_the_bundle_size_estimate_is_what_the_sink_sends():
    """bundle_problems() computes the bytes per tick without encoding; the encoder agrees."""
    from bridge.mapping.validate import route_info
    from bridge.sinks.osc_kind import message_size
    from bridge.mapping.router import Router
    from bridge.sinks.osc import OscSink

    for name in ("default", "touchdesigner-audioanalysis"):
        mapping = load_mapping(ROOT / "mappings" / f"{name}.yaml")
        router = Router(mapping)
        from bridge.signals.catalog import SPECTRUM

        values = {r["signal"]: (tuple([0.5] * SPECTRUM[r["signal"]].size)
                                if r["signal"] in SPECTRUM else 0.5) for r in mapping.routes}
        frame = router.tick(values)
        for (kind, target), items in frame.items():
            sink = OscSink(target, port=9)
            sent = []
            sink.transport.send_packet = sent.append
            sink.send(items)
            sink.close()
            sizes = [message_size(r["osc"]["address"], SPECTRUM[r["signal"]].size
                                  if r["signal"] in SPECTRUM else route_info(r, 60.0, "").size)
                     for r in mapping.routes if r["osc"] and r["osc"]["target"] == target]
            assert len(sent[0]) == 16 + sum(4 + s for s in sizes), name


def test_check_reports_a_fuzzed_file_in_lines_naming_it(tmp_path, capsys):
    from bridge.cli import main

    path = tmp_path / "m.yaml"
    path.write_bytes(DEFAULT_TEXT.replace(b"rate: 60", b"rate: " + b"9" * 400))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith(str(path)) for line in err)
    assert "Traceback" not in "\n".join(err)


@FUZZ
@given(ops=st.lists(st.tuples(st.integers(min_value=0, max_value=len(DEFAULT_TEXT)),
                              st.sampled_from(SNIPPETS)), min_size=1, max_size=3))
def test_check_in_process_exits_0_or_1_with_no_traceback(tmp_path_factory, ops):
    import contextlib
    import io

    from bridge.cli import main

    data = bytearray(DEFAULT_TEXT)
    for at, snippet in ops:
        data[at:at] = snippet
    path = tmp_path_factory.mktemp("fuzz") / "m.yaml"
    path.write_bytes(bytes(data))
    err, out = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = main(["check", str(path)])
    assert time.monotonic() - t0 < SECONDS_PER_CASE
    assert rc in (0, 1)
    assert "Traceback" not in err.getvalue()
    if rc == 1:
        assert all(line.startswith(str(path)) for line in err.getvalue().splitlines())
