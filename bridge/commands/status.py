"""``vjbridge status``: ask a running ``vjbridge run --status-port PORT`` how the show is.

Why a command: a gallery's cron job, a monitoring agent or an operator over SSH wants one answer
and an exit status, not a browser. It fetches ``/health`` (:mod:`bridge.runtime.health`) and
prints the verdict with its reasons and the main numbers, or the JSON itself with ``--json``.
Exit 0 when the show is "ok", 1 when it is "degraded" or "down", or when no status page answers
(one line saying where it looked and how to start one).
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "ask a running bridge (vjbridge run --status-port PORT) how the show is; exit 0 when ok"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bridge.runtime.web import DEFAULT_PORT

    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"the status port of the running bridge (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="where the bridge runs (default 127.0.0.1)")
    parser.add_argument("--json", action="store_true", help="print /health's JSON as it is")
    parser.add_argument("--timeout", type=_timeout, default=2.0, metavar="S",
                        help="seconds to wait for an answer (default 2)")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port in 1..65535")
    return int(text)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 60]")
    return value


def fetch(host: str, port: int, timeout: float) -> dict:
    """``/health`` as a dict; OSError (with a one-line reason) when nothing usable answers."""
    import http.client

    shown = f"[{host}]" if ":" in host else host
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/health", headers={"Host": f"{shown}:{port}"})
        response = conn.getresponse()
        body = response.read(8 * 1024 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise OSError(f"no vjbridge status page at http://{shown}:{port}/health ({reason}); "
                      f"is `vjbridge run --status-port {port}` running?") from None
    finally:
        conn.close()
    try:
        doc = json.loads(body)
        doc["status"]
    except (ValueError, TypeError, KeyError):
        raise OSError(f"http://{shown}:{port}/health answered HTTP {response.status} but not "
                      "with vjbridge's health JSON: is another server on that port?") from None
    return doc


def summary(doc: dict) -> str:
    """The verdict and the numbers a person checks first, one line each."""
    lines = [f"vjbridge: {doc['status']}" + (f" ({doc.get('time_iso')})" if doc.get("time_iso")
                                             else "")]
    lines += [f"  - {reason}" for reason in doc.get("reasons", [])]
    src, eng, out = doc.get("source"), doc.get("engine"), doc.get("outputs")
    if src and eng and out:
        lat = doc.get("latency_ms") or {}
        p50, p99 = lat.get("median"), lat.get("p99")
        latency = "n/a" if p50 is None else f"{p50:.2f}/{p99:.2f} ms (p50/p99)"
        lines.append(f"  input: {src['description']} [{src['device_state']}]"
                     + (f", {src['input_state']}" if src.get("input_state") else ""))
        lines.append(f"  output: {eng['packets_per_s'] or 0:.1f} packets/s, {eng['packets']} sent, "
                     f"{out['drops']} drops, {out['refused']} refused, {src['overruns']} overruns, "
                     f"{src['xruns']} xruns; latency {latency}")
        reload = (doc.get("mapping") or {}).get("reload")
        if reload:
            lines.append(f"  last reload {reload['time_iso']}: "
                         f"{'ok' if reload['ok'] else 'REFUSED'}: {reload['message']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        doc = fetch(args.host, args.port, args.timeout)
    except OSError as exc:
        print(f"vjbridge status: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=2) if args.json else summary(doc))
    return 0 if doc["status"] == "ok" else 1
