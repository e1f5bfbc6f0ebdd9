"""A second Ableton Link peer for the tests: its own process and its own aalink ``Link``.

Run as ``python tests/peers/link_peer.py BPM [QUANTUM]``: joins the Link session of its network
namespace at BPM (its tempo while alone, and what it proposes when it joins), then prints one JSON
line every 20 ms: ``{"t": time.monotonic(), "beat", "phase", "tempo", "peers"}`` (``t`` is read
around the beat, on the clock the test and vjbridge's ``perf_counter`` share on Linux). Commands
on stdin, one a line: ``tempo X`` (set the session tempo, as a user turning Live's tempo would),
``shift X`` (move the session's beat grid by X beats, ``force_beat``: a peer out of phase);
end of input or ``quit`` leaves the session (Link says goodbye to the other peers).

:class:`LinkPeer` starts it from a test and keeps its newest lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    import asyncio

    from aalink import Link

    bpm = float(argv[0])
    quantum = float(argv[1]) if len(argv) > 1 else 4.0
    commands: list[str] = []
    done = threading.Event()

    def read_stdin():
        for line in sys.stdin:
            commands.append(line.strip())
            if line.strip() == "quit":
                break
        done.set()

    threading.Thread(target=read_stdin, daemon=True).start()

    async def run():
        link = Link(bpm)
        link.quantum = quantum
        link.enabled = True
        while not done.is_set():
            while commands:
                cmd = commands.pop(0).split()
                if cmd and cmd[0] == "tempo":
                    link.tempo = float(cmd[1])
                elif cmd and cmd[0] == "shift":  # move the session's beat grid by X beats
                    link.force_beat(link.beat + float(cmd[1]))
            t0 = time.monotonic()
            beat, phase = link.beat, link.phase
            t1 = time.monotonic()
            print(json.dumps({"t": 0.5 * (t0 + t1), "beat": beat, "phase": phase,
                              "tempo": link.tempo, "peers": link.num_peers}), flush=True)
            await asyncio.sleep(0.02)
        link.enabled = False

    asyncio.run(run())


class LinkPeer:
    """``with LinkPeer(130) as peer:`` the peer process (in the caller's network namespace);
    ``peer.latest()`` its newest state line, ``peer.wait(pred)``, ``peer.tempo(x)``,
    ``peer.beat_at(t)`` (its beat at monotonic time ``t``, from the nearest state line)."""

    def __init__(self, bpm: float, quantum: float = 4.0) -> None:
        self.args = [sys.executable, str(Path(__file__).resolve()), str(bpm), str(quantum)]
        self.lines: list[dict] = []
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "LinkPeer":
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        from tests.peers.base import poll

        poll(lambda: self.lines or self.proc.poll() is not None, timeout=20,
             what="the Link peer's first state line")
        if not self.lines:
            raise AssertionError(f"the Link peer exited: {self.proc.stderr.read()}")
        return self

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def latest(self) -> dict:
        return self.lines[-1]

    def wait(self, predicate, timeout: float = 20.0, what: str = "the Link peer") -> dict:
        from tests.peers.base import poll

        return poll(lambda: self.lines and predicate(self.lines[-1]) and self.lines[-1],
                    timeout=timeout, what=what)

    def tempo(self, bpm: float) -> None:
        self.proc.stdin.write(f"tempo {bpm}\n")
        self.proc.stdin.flush()

    def shift(self, beats: float) -> None:
        self.proc.stdin.write(f"shift {beats}\n")
        self.proc.stdin.flush()

    def beat_at(self, t: float) -> float:
        """The peer's beat at monotonic ``t``, from the state line nearest it (its tempo)."""
        line = min(self.lines, key=lambda d: abs(d["t"] - t))
        return line["beat"] + (t - line["t"]) * line["tempo"] / 60.0

    def leave(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __exit__(self, *exc) -> None:
        self.leave()


if __name__ == "__main__":
    main(sys.argv[1:])
