"""Log lines of a real daemon: timestamped in a file or pipe, the journal's priority prefix under
systemd (``$JOURNAL_STREAM`` naming stderr), plain on a terminal."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import sys

from bridge.runtime.logsetup import JournalFormatter, formatter_for, under_journal


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_daemon(tmp_path, journal: bool) -> list[str]:
    err = tmp_path / "stderr.txt"
    with open(err, "wb") as f:
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if journal:
            st = os.fstat(f.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        subprocess.run([sys.executable, "-m", "bridge.cli", "--log-level", "info", "run", "--demo",
                        "--no-models", "--mapping", "none", "--osc", f"127.0.0.1:{_port()}",
                        "--duration", "0.5", "--speed", "0"], stderr=f, stdout=subprocess.DEVNULL,
                       env=env, timeout=120, check=True)
    return [line for line in err.read_text().splitlines() if "bridge." in line]


def test_daemon_log_lines_carry_a_utc_timestamp_off_a_terminal(tmp_path):
    lines = _run_daemon(tmp_path, journal=False)
    assert lines
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) bridge\.")
    assert all(stamp.match(line) for line in lines), lines


def test_under_the_journal_lines_carry_the_priority_and_level_but_no_timestamp(tmp_path):
    lines = _run_daemon(tmp_path, journal=True)
    assert lines
    assert all(re.match(r"^<[2-7]>(DEBUG|INFO|WARNING|ERROR) bridge\.", line) for line in lines), lines


def test_formatter_choice_and_priorities(tmp_path):
    with open(tmp_path / "x", "w") as f:
        st = os.fstat(f.fileno())
        assert under_journal(f, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        assert not under_journal(f, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
        assert not under_journal(f, {"JOURNAL_STREAM": "nonsense"})
    assert not under_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})
    record = logging.LogRecord("bridge.x", logging.WARNING, __file__, 1, "lost %s", ("it",), None)
    assert JournalFormatter("%(levelname)s %(name)s: %(message)s").format(record) == \
        "<4>WARNING bridge.x: lost it"

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert formatter_for(Tty(), {}).format(record) == "WARNING bridge.x: lost it"
    assert formatter_for(io.StringIO(), {}).format(record).endswith("Z WARNING bridge.x: lost it")
