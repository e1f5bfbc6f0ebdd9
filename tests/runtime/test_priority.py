"""The engine thread asks for real-time scheduling and gets what the system allows, never failing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

from bridge.runtime.engine import LIVE_SPEC, Engine
from bridge.runtime.priority import RT_PRIORITY, raise_priority, thread_policy
from bridge.runtime.stages import FeatureColumns
from bridge.sources import DemoSource


class PolicyProbe:
    """An output that records the scheduling policy of the thread that calls send()."""

    drops = 0

    def __init__(self):
        self.seen: set = set()

    def start(self):
        pass

    def send(self, values):
        self.seen.add(thread_policy(threading.get_native_id()))

    def idle(self):
        pass

    def close(self):
        pass

    def describe(self):
        return "probe"


def _can_rt() -> bool:
    try:
        return os.sched_get_priority_max(os.SCHED_FIFO) >= RT_PRIORITY and (
            os.geteuid() == 0 or __import__("resource").getrlimit(
                __import__("resource").RLIMIT_RTPRIO)[0] >= RT_PRIORITY)
    except (AttributeError, OSError):
        return False


def _run(realtime: bool) -> tuple[Engine, PolicyProbe]:
    probe = PolicyProbe()
    engine = Engine(DemoSource(LIVE_SPEC.sample_rate, speed=8.0), [FeatureColumns(LIVE_SPEC)],
                    [probe], realtime=realtime)
    t = threading.Thread(target=engine.run, kwargs={"duration": 0.3})
    t.start()
    t.join()
    return engine, probe


def test_the_engine_thread_runs_with_the_priority_it_reports():
    engine, probe = _run(True)
    assert probe.seen, "no frame reached the output"
    if _can_rt():  # root (CI) or an rtprio limit: really SCHED_FIFO, on the engine thread only
        assert engine.priority == f"realtime (SCHED_FIFO {RT_PRIORITY})"
        assert probe.seen == {("fifo", RT_PRIORITY)}
        assert thread_policy()[0] == "normal"  # the test's own thread is untouched
    else:
        assert engine.priority.startswith(("high", "normal"))
        assert all(policy == "normal" for policy, _ in probe.seen)


def test_no_realtime_leaves_the_engine_at_normal_priority():
    engine, probe = _run(False)
    assert engine.priority == "normal"
    assert {policy for policy, _ in probe.seen} == {"normal"}
    assert raise_priority(realtime=False).startswith("normal")


def test_without_the_capability_it_falls_back_with_a_hint_instead_of_failing():
    # root (CI) drops CAP_SYS_NICE with setpriv; a normal user has no such capability anyway
    code = ("from bridge.runtime.priority import raise_priority, thread_policy\n"
            "print(raise_priority()); print(thread_policy()[0])")
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is missing"
        prefix = [setpriv, "--bounding-set=-sys_nice", "--inh-caps=-sys_nice"]
    import resource

    if os.geteuid() != 0 and resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= RT_PRIORITY:
        prefix = ["prlimit", "--rtprio=0"]  # this user may use real-time: take that away
    out = subprocess.run(prefix + [sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    got, policy = out.stdout.strip().splitlines()
    assert got.startswith(("normal (real-time scheduling refused", "high (nice")), got
    assert "--no-realtime" in got or got.startswith("high")
    assert policy == "normal"


def test_the_calling_thread_gets_its_priority_back_when_the_engine_stops():
    before = thread_policy()
    probe = PolicyProbe()
    Engine(DemoSource(LIVE_SPEC.sample_rate, speed=8.0), [FeatureColumns(LIVE_SPEC)], [probe],
           realtime=True).run(duration=0.2)  # on this thread, as the benchmark does
    if _can_rt():
        assert probe.seen == {("fifo", RT_PRIORITY)}
    assert thread_policy() == before
