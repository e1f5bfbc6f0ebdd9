"""Start, stop and restart the external ``vjbridge run`` daemon from TouchDesigner.

Why a subprocess: all of vjbridge's heavy work (audio, models, numpy, onnxruntime) stays outside
TouchDesigner, so nothing is ever pip-installed into TouchDesigner's Python. The daemon's stdout and
stderr are read by a background thread into a bounded deque; TouchDesigner's main thread copies the
tail into a Text DAT on cook (the thread never touches a TouchDesigner object).

Platform differences live behind two small seams, ``popen_options(platform)`` and
``request_stop(proc, platform, ask)``: POSIX gets its own session and SIGTERM; Windows gets
CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW. Stopping first asks over the daemon's control port
(``/vjbridge/control/stop``, when the component started it with one): on Windows that is the only
clean way, because CTRL_BREAK_EVENT cannot reach a console-less child of a program without a
console (TouchDesigner), and TerminateProcess skips the daemon's idle values. Either way a daemon
that has not exited after ``stop_timeout`` seconds is killed.
"""

import collections
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

LOG_LINES = 400
EXITED_AT_ONCE_S = 20.0  # a first start on a slow machine imports numpy, onnxruntime...


def not_found_message(executable=""):
    what = f"'{executable}' " if executable else ""
    return (f"vjbridge {what}not found: pip install vjbridge, then set Executable to its full "
            r"path, e.g. C:\Users\you\AppData\Local\Programs\Python\Python311\Scripts\vjbridge.exe"
            " on Windows or ~/.local/bin/vjbridge on macOS")


def usual_locations(platform=sys.platform, env=None, home=None):
    """Where ``pip install vjbridge`` usually puts the script when PATH does not say: TouchDesigner
    started from the Dock or the Start menu often has a shorter PATH than a terminal."""
    env = os.environ if env is None else env
    home = home or os.path.expanduser("~")
    if platform.startswith("win"):
        roots = [os.path.join(env.get("APPDATA", ""), "Python"),
                 os.path.join(env.get("LOCALAPPDATA", ""), "Programs", "Python")]
        out = []
        for root in roots:
            try:
                versions = sorted(os.listdir(root), reverse=True)
            except OSError:
                continue
            out += [os.path.join(root, v, "Scripts", "vjbridge.exe") for v in versions]
        return out
    out = [os.path.join(home, ".local", "bin", "vjbridge"), "/opt/homebrew/bin/vjbridge",
           "/usr/local/bin/vjbridge"]
    if platform == "darwin":
        try:
            versions = sorted(os.listdir(os.path.join(home, "Library", "Python")), reverse=True)
        except OSError:
            versions = []
        out += [os.path.join(home, "Library", "Python", v, "bin", "vjbridge") for v in versions]
    return out


def resolve_executable(executable, which=shutil.which, locations=None):
    """The daemon's command prefix as a list, or raise FileNotFoundError with the clear message.

    ``executable`` is a full path, a name on PATH, or empty (then ``vjbridge`` on PATH, else the
    usual install locations)."""
    text = str(executable or "").strip().strip('"')
    if not text:
        found = which("vjbridge")
        if not found:
            for candidate in (usual_locations() if locations is None else locations):
                if os.path.isfile(candidate):
                    return [candidate]
            raise FileNotFoundError(not_found_message())
        return [found]
    expanded = os.path.expanduser(text)
    if os.path.isfile(expanded):
        return [expanded]
    found = which(text)
    if found:
        return [found]
    raise FileNotFoundError(not_found_message(text))


def build_args(osc_port, control_port=None, mapping="", device="", demo=False, host="127.0.0.1",
               extra=()):
    """``run --osc 127.0.0.1:<port> [--control 127.0.0.1:<port>] [--mapping M] [--device D]``."""
    args = ["run", "--osc", f"{host}:{int(osc_port)}"]
    if control_port:
        args += ["--control", f"{host}:{int(control_port)}"]
    if mapping:
        args += ["--mapping", str(mapping)]
    if demo:
        args += ["--demo"]
    elif device:
        args += ["--device", str(device)]
    return args + [str(a) for a in extra]


def popen_options(platform=sys.platform):
    """Keyword arguments for Popen: the daemon in its own process group, no console window."""
    if platform.startswith("win"):
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        flags |= getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)
        return {"creationflags": flags}
    return {"start_new_session": True}


def request_stop(proc, platform=sys.platform, ask=None):
    """Ask the daemon to stop cleanly (it then sends its idle values and exits): ``ask()`` sends
    the control port's stop message and says whether it went out; POSIX also gets SIGTERM, and
    Windows CTRL_BREAK_EVENT only when no control message could be sent."""
    asked = bool(ask()) if ask is not None else False
    if platform.startswith("win"):
        if not asked:
            proc.send_signal(getattr(signal, "CTRL_BREAK_EVENT", 1))
    else:
        proc.send_signal(signal.SIGTERM)


class Daemon:
    """One daemon process at a time. All methods are safe to call from TouchDesigner's cook."""

    def __init__(self, popen=subprocess.Popen, which=shutil.which, platform=sys.platform,
                 clock=time.monotonic, stop_timeout=5.0, locations=None):
        self.popen = popen
        self.which = which
        self.locations = locations
        self.platform = platform
        self.clock = clock
        self.stop_timeout = stop_timeout
        self.proc = None
        self.lines = collections.deque(maxlen=LOG_LINES)
        self.lines_version = 0  # bumped on every new line: the DAT is rewritten only on change
        self.message = "stopped"
        self.command = []
        self._started_at = None
        self._stop_deadline = None
        self._restart = None
        self._reader = None
        self._lock = threading.Lock()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _append(self, line):
        with self._lock:
            self.lines.append(line)
            self.lines_version += 1

    def tail(self, n=LOG_LINES):
        with self._lock:
            return list(self.lines)[-n:]

    def last_line(self):
        lines = [line for line in self.tail() if line.strip()]
        return lines[-1] if lines else ""

    def start(self, executable, args, env=None):
        """Start ``executable args``; returns True, or False with ``message`` saying why."""
        if self.running:
            self.message = f"already running (pid {self.proc.pid})"
            return True
        try:
            prefix = resolve_executable(executable, self.which, self.locations)
        except FileNotFoundError as exc:
            self.message = str(exc)
            self._append(self.message)
            return False
        self.command = prefix + list(args)
        child_env = dict(os.environ if env is None else env)
        child_env["PYTHONUNBUFFERED"] = "1"  # log lines arrive as they are written
        child_env.setdefault("PYTHONIOENCODING", "utf-8")
        try:
            proc = self.popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=child_env,
                              **popen_options(self.platform))
        except OSError as exc:
            self.message = f"cannot start {prefix[0]}: {exc}"
            self._append(self.message)
            return False
        self.proc = proc
        self._started_at = self.clock()
        self.message = f"running (pid {proc.pid}): {' '.join(self.command)}"
        self._append(f"started: {' '.join(self.command)}")
        self._reader = threading.Thread(target=self._read, args=(proc,), daemon=True,
                                        name="vjbridge-daemon-log")
        self._reader.start()
        return True

    def _read(self, proc):
        stream = proc.stdout
        if stream is None:
            return
        try:
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                self._append(text.rstrip("\r\n"))
        except (OSError, ValueError):
            pass  # the pipe closed

    def poll(self):
        """Call each cook: notices an exit and explains it (an exit at once shows its last line),
        kills a daemon that ignored a stop request, and starts the pending restart."""
        proc = self.proc
        if proc is None:
            return self.message
        if proc.poll() is None:
            if self._stop_deadline is not None and self.clock() > self._stop_deadline:
                proc.kill()
                self._append("vjbridge did not stop in time: killed")
                self._stop_deadline = self.clock() + self.stop_timeout
            return self.message
        code = proc.returncode
        if self._reader is not None:
            self._reader.join(timeout=0.5)
        self.proc = None
        if self._stop_deadline is not None:
            self._stop_deadline = None
            self.message = f"stopped (exit code {code})"
            self._append(self.message)
            if self._restart is not None:
                executable, args, env = self._restart
                self._restart = None
                self.start(executable, args, env)
            return self.message
        quick = self._started_at is not None and self.clock() - self._started_at < EXITED_AT_ONCE_S
        last = self.last_line()
        if quick:
            self.message = f"vjbridge exited at once (code {code}): {last or 'no output'}"
        else:
            self.message = f"vjbridge exited (code {code}){': ' + last if last else ''}"
        self._append(self.message)
        return self.message

    def stop(self, wait=False, ask=None):
        """Ask the daemon to stop (``ask``: see :func:`request_stop`). ``wait=False``
        (TouchDesigner's cook) returns at once and ``poll()`` finishes the job, killing it after
        ``stop_timeout`` s; ``wait=True`` (on exit, in tests) blocks until it is gone. Returns the
        exit code when known."""
        proc = self.proc
        self._restart = None  # an explicit stop cancels a pending restart
        if proc is None:
            self.message = "stopped"
            return None
        if proc.poll() is None and self._stop_deadline is None:
            try:
                request_stop(proc, self.platform, ask)
            except (OSError, ValueError) as exc:
                # e.g. Windows refusing CTRL_BREAK_EVENT to a console-less child: no clean stop
                # is possible, so do not make the user wait for the timeout
                self._append(f"cannot ask vjbridge to stop ({exc}): killing it")
                proc.kill()
            self._stop_deadline = self.clock() + self.stop_timeout
            self.message = f"stopping (pid {proc.pid})"
        if not wait:
            self.poll()
            return proc.returncode
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            self._append("vjbridge did not stop in time: killed")
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        self.poll()
        return proc.returncode

    def restart(self, executable, args, env=None):
        """Stop (without blocking) and start again once the old process is gone."""
        if self.proc is None:
            return self.start(executable, args, env)
        self.stop()
        if self.proc is None:
            return self.start(executable, args, env)
        self._restart = (executable, args, env)
        self.message = "restarting"
        return True
