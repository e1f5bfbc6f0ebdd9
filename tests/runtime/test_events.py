"""Events: bounded, rate-limited per line, readable from other threads."""

import logging
import threading

from bridge.runtime.events import Events


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_the_same_line_within_the_quiet_time_is_counted_not_logged(caplog):
    clock = Clock()
    events = Events(quiet_s=10.0, clock=clock, wall=clock)
    with caplog.at_level(logging.INFO, logger="bridge.events"):
        assert events.emit("output", "tcp peer closed; reconnecting") is not None
        for _ in range(59):
            clock.t += 0.016
            assert events.emit("output", "tcp peer closed; reconnecting") is None
        assert events.emit("output", "another line") is not None  # a different line is not held
        clock.t = 11.0
        again = events.emit("output", "tcp peer closed; reconnecting", level=logging.WARNING)
    assert again.repeats == 59 and again.level == logging.WARNING
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["output: tcp peer closed; reconnecting", "output: another line",
                     "output: tcp peer closed; reconnecting (59 more like this since the last "
                     "report)"]
    assert events.total == 62 and len(events.recent()) == 3
    assert events.last("output").message == "tcp peer closed; reconnecting"
    assert events.recent(kind="device") == [] and events.last("device") is None
    assert again.as_dict()["level"] == "WARNING"


def test_the_record_is_bounded_and_safe_to_read_while_written():
    events = Events(maxlen=50, quiet_s=0.0)
    stop = threading.Event()
    seen = []

    def reader():
        while not stop.is_set():
            seen.append(len(events.recent()))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(5000):
        events.emit("input", f"event {i}", level=logging.DEBUG)
    stop.set()
    t.join()
    assert len(events.recent()) == 50 and max(seen) <= 50
    assert events.recent(3)[-1].message == "event 4999"
