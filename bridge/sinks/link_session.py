"""vjbridge's one Ableton Link peer: its own thread and asyncio loop, shared by the ``link`` output
and the ``--link`` input.

Why one per process: each ``aalink.Link`` is a peer of its own, so an output and an input with a
Link each would count each other as "a session with another peer" and follow themselves. Both
:func:`acquire` the same :class:`LinkSession` (counted; the last :func:`release` leaves the
session).

Why a thread of its own: aalink is asyncio-based (``Link(bpm)`` binds to the running loop), and
committing a tempo or a beat to Link takes its session-state mutex, which is nothing to do on the
engine thread. So the engine never calls aalink: the output hands values over by assignment and
``deque.append`` (:meth:`LinkSession.hand_tempo`, :meth:`hand_beat`), and the input reads
:attr:`LinkSession.state`, an immutable :class:`LinkState` (tempo, beat and the moment it was
read) that the thread replaces every ``PERIOD`` (20 ms); the engine extrapolates the beat from it
(:meth:`LinkState.beat_at`: exact while the tempo holds, and a tempo change shows within 20 ms).

What the output does to the session, and why that is sound. Link's rules: the tempo belongs to
the session and any peer may change it (the last change wins); beat *phase* is aligned to the
session by each peer modulo the quantum when it joins, and peers do not move it afterwards, with
one exception Link provides for (``forceBeatAtTime``: "bridging an external clock source into a
Link session"). vjbridge's beat tracker follows music that is not in the session (a DJ, a band):
an external clock. So:

- **tempo**: committed when vjbridge's detected tempo moves by at least ``TEMPO_STEP`` (0.05 BPM)
  from the value it last committed (0 = no estimate yet: nothing). It never re-asserts a value, so
  another peer's tempo change stands until the music's tempo moves.
- **phase** (only when a route sends ``beat``): each detected beat is compared with the session's
  beat grid; the session is shifted to the nearest beat (``force_beat``, the bar position kept)
  only when the session runs at vjbridge's tempo (within 1 %), *two consecutive* beats say it is
  off by more than ``align_tolerance`` (a fraction of a beat) by about the same amount (a
  consistent offset, not the tracker's frame-to-frame jitter of +-8 ms), and at most once every
  ``MIN_FORCE_S`` (2 s). A session that follows the music therefore moves rarely and by small
  steps; peers see one jump, not a wobble.
- While the input follows a session (``--link`` and at least one other peer) the output hands
  nothing over: the session drives vjbridge then, and its own tempo and beats would only echo it.

Cost: aalink's scheduler thread wakes every millisecond whether or not anything waits on it
(about 2 % of one core on the 2-core test machine, measured with ``time.process_time`` over 8 s),
plus this thread's 50 wake-ups a second. So the session exists only while a ``link`` output or
``--link`` asks for it. aalink is imported only then; without it, one line says how to install it.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from collections import deque
from typing import NamedTuple

log = logging.getLogger("bridge.link")

#: How often the Link thread reads the session and applies what the engine handed over (s).
PERIOD = 0.02
#: The smallest change of the detected tempo that is committed to the session (BPM).
TEMPO_STEP = 0.05
#: At most one phase alignment (force_beat) this often (s).
MIN_FORCE_S = 2.0
#: Link's tempo range (BPM): values outside it are not committed.
TEMPO_RANGE = (20.0, 999.0)
#: The one line a missing aalink gives.
MISSING = ("Ableton Link needs the aalink package, which is not installed: pip install aalink "
           "(or pip install 'vjbridge[link]')")


class LinkUnavailable(Exception):
    """aalink cannot be imported (or the Link thread could not start): ``str()`` is one line."""


class LinkState(NamedTuple):
    """The session as the Link thread last read it: at ``perf_counter()`` ``time`` the session's
    beat was ``beat`` (in this peer's beat numbering, aligned modulo ``quantum``) at ``tempo`` BPM,
    with ``peers`` other peers; ``following``: the input follows the session now."""

    time: float
    beat: float
    tempo: float
    peers: int
    quantum: float
    following: bool

    def beat_at(self, t: float) -> float:
        """The session's beat at ``perf_counter()`` time ``t`` (extrapolated at its tempo)."""
        return self.beat + (t - self.time) * self.tempo / 60.0


def require() -> None:
    """:class:`LinkUnavailable` (one line) when aalink cannot be imported."""
    try:
        importlib.import_module("aalink")
    except ImportError:
        raise LinkUnavailable(MISSING) from None


class LinkSession:
    """One Link peer on its own thread (see the module docstring). ``start()``/``stop()``;
    ``state`` (None until the thread has read the session once)."""

    def __init__(self, *, quantum: float = 4.0, bpm: float = 120.0,
                 align_tolerance: float = 0.05) -> None:
        self.quantum = float(quantum)
        self.bpm = float(bpm)  # the tempo this peer starts with, alone
        self.align_tolerance = float(align_tolerance)
        self.follow = False  # the input wants to follow a session with peers
        self.state: LinkState | None = None
        self.tempo_commits = 0  # tempos committed to the session
        self.forced = 0  # phase alignments (force_beat)
        self.error: str | None = None
        self._tempo_in: float | None = None  # the engine's newest tempo (assignment only)
        self._tempo_sent: float | None = None
        self._beats: deque = deque(maxlen=16)  # perf_counter() of the engine's beats
        self._errors: deque = deque(maxlen=2)  # phase errors of the last beats (beats)
        self._last_force = -math.inf
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._said: tuple | None = None  # (peers, following) last logged

    # ---- from the engine thread: hand-overs only (no lock, no call into aalink) ----------------
    def hand_tempo(self, bpm: float) -> None:
        self._tempo_in = bpm

    def hand_beat(self, at: float) -> None:
        self._beats.append(at)

    # ---- life cycle -------------------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> "LinkSession":
        require()
        self._thread = threading.Thread(target=self._main, name="link", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self.error:
            self.stop()
            raise LinkUnavailable(self.error or "the Ableton Link thread did not start within "
                                  f"{timeout:g} s")
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def describe(self) -> str:
        """One line for the status line: peers, and whether vjbridge follows or publishes."""
        st = self.state
        if st is None:
            return "Link: joining"
        peers = f"{st.peers} peer{'' if st.peers == 1 else 's'}"
        if st.following:
            return f"Link: {peers}, following the session at {st.tempo:.1f} BPM"
        if self.follow:
            return f"Link: {peers}, bpm and beat from the audio (no other peer to follow)"
        if self._tempo_sent is not None:
            return f"Link: {peers}, publishing {self._tempo_sent:.1f} BPM"
        return f"Link: {peers}, session at {st.tempo:.1f} BPM (no tempo detected yet)"

    # ---- the Link thread --------------------------------------------------------------------
    def _main(self) -> None:
        import asyncio  # here: importing bridge.sinks must stay cheap

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._run())
        except Exception as exc:  # noqa: BLE001 - reported once; the show goes on without Link
            self.error = f"Ableton Link stopped: {exc}"
            log.error("%s", self.error)
        finally:
            self._ready.set()
            loop.close()

    async def _run(self) -> None:
        import asyncio

        from aalink import Link

        link = Link(self.bpm)  # binds to this thread's running loop
        link.quantum = self.quantum
        link.enabled = True
        try:
            self._read(link)
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(PERIOD)
                self._tick(link)
        finally:
            link.enabled = False  # peers see us leave now, not after a timeout

    def _tick(self, link) -> None:
        if link.quantum != self.quantum:
            link.quantum = self.quantum
        following = self.follow and link.num_peers > 0
        if following:
            self._beats.clear()  # the session leads: nothing of ours goes in
            self._errors.clear()
        else:
            tempo = self._tempo_in
            if (tempo is not None and TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]
                    and (self._tempo_sent is None or abs(tempo - self._tempo_sent) >= TEMPO_STEP)):
                link.tempo = tempo
                self._tempo_sent = tempo
                self.tempo_commits += 1
            beats = self._beats
            while beats:
                self._align(link, beats.popleft())
        self._read(link)

    def _read(self, link) -> None:
        t0 = time.perf_counter()
        beat = link.beat
        t1 = time.perf_counter()
        peers = link.num_peers
        following = self.follow and peers > 0
        self.state = LinkState(0.5 * (t0 + t1), beat, link.tempo, peers, self.quantum, following)
        said = (peers, following)
        if said != self._said:
            if self._said is not None or peers:
                log.info("%s", self.describe())
            self._said = said

    def _align(self, link, at: float) -> None:
        """A beat the engine sent at ``perf_counter()`` ``at``: shift the session's phase to it
        when the rules of the module docstring allow."""
        sent = self._tempo_sent
        now = time.perf_counter()
        beat, tempo = link.beat, link.tempo
        if sent is None or abs(tempo - sent) > 0.01 * sent:
            self._errors.clear()  # the session is not at our tempo: its phase is not ours
            return
        there = beat - (now - at) * tempo / 60.0  # the session's beat when ours was sent
        err = there - round(there)
        errors = self._errors
        errors.append(err)
        tol = self.align_tolerance
        if (len(errors) == 2 and all(abs(e) > tol for e in errors)
                and abs(errors[0] - errors[1]) <= tol and now - self._last_force >= MIN_FORCE_S):
            shift = 0.5 * (errors[0] + errors[1])
            link.force_beat(link.beat - shift)
            self.forced += 1
            self._last_force = now
            errors.clear()
            log.info("Link: session beat shifted by %+.3f beat to the detected beats", -shift)


_SESSION: LinkSession | None = None
_USERS = 0
_LOCK = threading.Lock()


def acquire(*, quantum: float | None = None, follow: bool = False,
            align_tolerance: float | None = None) -> LinkSession:
    """The process's Link session, started on first use (:class:`LinkUnavailable`: one line).
    ``quantum``/``align_tolerance``: an output's settings (the newest wins); ``follow``: the
    input's. Every call needs one :func:`release`."""
    global _SESSION, _USERS
    with _LOCK:
        session = _SESSION
        if session is None or not session.running:
            session = LinkSession(quantum=quantum or 4.0,
                                  align_tolerance=align_tolerance or 0.05).start()
            _SESSION, _USERS = session, 0
        if quantum is not None:
            session.quantum = float(quantum)
        if align_tolerance is not None:
            session.align_tolerance = float(align_tolerance)
        if follow:
            session.follow = True
        _USERS += 1
        return session


def release(session: LinkSession, *, follow: bool = False) -> None:
    """Give back one :func:`acquire`; the last one leaves the Link session."""
    global _SESSION, _USERS
    with _LOCK:
        if session is not _SESSION:
            session.stop()
            return
        _USERS -= 1
        if _USERS <= 0:
            _SESSION, _USERS = None, 0
            session.stop()
        elif follow:
            session.follow = False


def status() -> str | None:
    """The session's one-line status, or None when vjbridge is in no Link session."""
    session = _SESSION
    return session.describe() if session is not None else None
