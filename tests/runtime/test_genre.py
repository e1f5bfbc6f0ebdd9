"""Genre -> style: ``/vjbridge/genre`` and ``/vjbridge/style`` (OSC strings) at a real receiver
(liblo's oscdump) from ``vjbridge run --genre`` and from a mapping's ``genre:`` key, on start, once
a second and after a reload, never to a target with ``announce: false``; a typo is one line with a
did-you-mean."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.genres import STYLES, GenreError, canonical, style_of
from bridge.mapping.validate import validate
from bridge.errors import MappingError
from tests.peers.base import poll
from tests.peers.osc import OscDump
from tests.runtime.peers import Bridge

ROOT = Path(__file__).resolve().parents[2]


def strings(dump: OscDump) -> list[tuple[str, str]]:
    """(address, first string argument) of every _info, genre and style message, in order
    (oscdump prints a string in double quotes, spaces and all)."""
    out = []
    for line in dump.text().splitlines():
        if " /vjbridge/genre s " in line or " /vjbridge/style s " in line:
            address, rest = line.split(" ", 2)[1], line.split(" s ", 1)[1]
            out.append((address, rest.strip().strip('"')))
        elif " /vjbridge/_info " in line:
            out.append(("/vjbridge/_info", ""))
    return out


def test_the_dictionary_has_23_genres_with_their_own_styles():
    assert len(STYLES) == 23
    assert {"classical", "electronic", "country", "rock", "jazz"} <= set(STYLES)  # Table 3's
    assert len(set(STYLES.values())) == 23 and all(len(s) > 40 for s in STYLES.values())
    assert canonical("Hip Hop") == canonical("hiphop") == "hip-hop"
    assert canonical("DnB") == "drum-and-bass" and canonical("R&B") == "rnb"
    assert style_of("TECHNO") == STYLES["techno"]
    with pytest.raises(GenreError, match="Did you mean 'techno'"):
        canonical("tehcno")


def test_a_mapping_genre_is_checked_with_a_did_you_mean():
    route = [{"signal": "low", "osc": {"address": "/vjbridge/low"}}]
    assert validate({"genre": "Jazz", "routes": route}).genre == "jazz"
    assert validate({"routes": route}).genre is None
    with pytest.raises(MappingError) as err:
        validate({"genre": "jaz", "routes": route})
    (problem,) = err.value.problems
    assert problem.startswith("genre: unknown genre 'jaz'. Did you mean 'jazz'?")


def test_run_genre_typo_is_one_line_with_did_you_mean():
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "run", "--demo", "--genre",
                           "tehcno"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert "--genre: unknown genre 'tehcno'. Did you mean 'techno'?" in lines[0]
    assert "Traceback" not in done.stderr


def test_run_genre_sends_genre_and_style_strings_on_start_and_once_a_second():
    with OscDump("udp") as td:
        bridge = Bridge("run", "--demo", "--no-models", "--genre", "Techno",
                        "--osc", f"127.0.0.1:{td.port}", "--duration", "3.5")
        try:
            bridge.proc.wait(timeout=40)
        finally:
            rc = bridge.stop()
        got = strings(td)
    assert rc == 0, bridge.stderr
    genre = [s for a, s in got if a == "/vjbridge/genre"]
    style = [s for a, s in got if a == "/vjbridge/style"]
    assert genre == ["techno"] * len(genre) and len(genre) >= 3  # start + about once a second
    assert style == [STYLES["techno"]] * len(genre)
    # each one right after the stream's _info, genre then style
    assert got[:3] == [("/vjbridge/_info", ""), ("/vjbridge/genre", "techno"),
                       ("/vjbridge/style", STYLES["techno"])]


def test_mapping_genre_key_reload_and_announce_false(tmp_path):
    with OscDump("udp") as td, OscDump("udp") as desk:
        mapping = tmp_path / "show.yaml"
        body = ("version: 1\ngenre: GENRE\nosc:\n"
                f"  td: {{host: 127.0.0.1, port: {td.port}}}\n"
                f"  desk: {{host: 127.0.0.1, port: {desk.port}, announce: false}}\n"
                "routes:\n"
                "  - {signal: low, osc: {address: /vjbridge/low, target: td}}\n"
                "  - {signal: low, osc: {address: /desk/low, target: desk}}\n")
        mapping.write_text(body.replace("GENRE", "jazz"))
        bridge = Bridge("run", "--demo", "--no-models", "--mapping", str(mapping))
        try:
            poll(lambda: ("/vjbridge/style", STYLES["jazz"]) in strings(td), 20,
                 what="the jazz style at the receiver")
            time.sleep(1.1)  # a different mtime for the watcher
            mapping.write_text(body.replace("GENRE", "Drum and Bass"))
            poll(lambda: ("/vjbridge/genre", "drum-and-bass") in strings(td), 20,
                 what="the reloaded genre at the receiver")
        finally:
            rc = bridge.stop()
        got, at_desk = strings(td), desk.text()
    assert rc == 0, bridge.stderr
    assert ("/vjbridge/style", STYLES["drum-and-bass"]) in got
    last = [s for a, s in got if a == "/vjbridge/genre"][-1]
    assert last == "drum-and-bass"
    assert "/desk/low" in at_desk  # the desk gets its data ...
    assert "/vjbridge/genre" not in at_desk and "/vjbridge/style" not in at_desk  # ... only
    assert "/vjbridge/_info" not in at_desk


def test_run_config_genre_is_checked_and_applied(tmp_path):
    from bridge.runtime.runconfig import RunConfigError, load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ngenre: jaz\n")
    with pytest.raises(RunConfigError) as err:
        load_config(bad)
    assert any("genre: unknown genre 'jaz'. Did you mean 'jazz'?" in p
               for p in err.value.problems)
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\ngenre: Jazz\n")
    assert load_config(good)["genre"] == "Jazz"  # spelled by the user; run --genre's rules apply
