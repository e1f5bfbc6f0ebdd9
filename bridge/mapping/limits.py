"""The limits every mapping is read under: start-up (``vjbridge run``, ``vjbridge check``), the hot
reload of an edited file, and a switch over the control port all read mappings through here.

Why limits: a mapping file is edited by hand during a show and can be named by a peer on the
network, so it is read as untrusted. Each limit is named in the error it raises, so the person
who hits one knows which it was and what to do:

- file size (:data:`MAX_MAPPING_BYTES`): the shipped mappings are 2-4 KB; a 10 MB file of comments
  would take seconds to parse. The file must be a regular file (a FIFO or a device would block the
  reader for ever) and is read at most that many bytes.
- YAML nodes after alias expansion (:data:`MAX_YAML_NODES`): a "billion laughs" file of a few
  hundred bytes stands for billions of nodes; it is refused before anything is constructed.
- nesting depth (:data:`MAX_YAML_DEPTH`): deeper documents are no mapping and would recurse.
- routes (:data:`MAX_ROUTES`).
- the encoded bundle size per UDP OSC target (:func:`bundle_problems`): a frame's bundle that does
  not fit one datagram is dropped by the kernel every tick, which is a dead show that looks live.
  We REFUSE such a mapping rather than split the bundle: one bundle per frame is the promise that
  a frame's values arrive together (one timetag; TouchDesigner's OSC In CHOP and desks rely on
  it), a split bundle would arrive as several partial frames, and a mapping that big is a mistake
  the VJ should hear about before the show, with the fix in the message (fewer routes per target,
  a second target, ``bundle: false`` or ``protocol: tcp``). The limit is 1,472 bytes for a
  non-loopback host (one 1,500-byte Ethernet frame minus the IP and UDP headers: a fragmented
  datagram is lost whole when one fragment is, and Wi-Fi/VPN links often drop fragments) and
  9,216 bytes for loopback (macOS's default ``net.inet.udp.maxdgram``, the smallest loopback
  datagram limit of the systems vjbridge runs on; Linux takes 65,507).

Everything here runs off the engine thread (the reload watcher, the control thread, start-up).
"""

from __future__ import annotations

import ipaddress
import os
import stat

from bridge.errors import MappingError
from bridge.mapping.validate import NOT_TEXT, yaml_problem

MAX_MAPPING_BYTES = 256 * 1024  # the shipped mappings are 2-4 KB
MAX_YAML_NODES = 100_000  # after alias expansion; a mapping with 200 routes has ~3,000
MAX_YAML_DEPTH = 64  # a mapping nests 4 levels deep
MAX_ROUTES = 2_000
#: Largest UDP datagram sent to a non-loopback host: 1500 (Ethernet MTU) - 20 (IPv4) - 8 (UDP).
MAX_DATAGRAM_NETWORK = 1472
#: Largest UDP datagram sent on loopback (macOS's default net.inet.udp.maxdgram).
MAX_DATAGRAM_LOOPBACK = 9216



def read_yaml(path: str) -> object:
    """The parsed YAML of the mapping file at ``path`` under the file, node and depth limits;
    :class:`MappingError` (one problem naming the limit or what is wrong) otherwise."""
    def refuse(problem: str):
        return MappingError([problem], path)

    try:
        st = os.stat(path)
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError as exc:  # an embedded NUL in the path
        raise refuse(f"cannot read the file: {exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise refuse("is a directory; give the path of a mapping YAML file")
    if not stat.S_ISREG(st.st_mode):
        raise refuse("not a regular file (a FIFO, socket or device?); a mapping is a YAML file")
    if st.st_size > MAX_MAPPING_BYTES:
        raise refuse(_too_big(st.st_size))
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MAPPING_BYTES + 1)
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_MAPPING_BYTES:  # it grew between the stat and the read
        raise refuse(_too_big(len(data)))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(NOT_TEXT) from None
    try:
        return parse_yaml(text)
    except YamlLimit as exc:
        raise refuse(str(exc)) from None


def _too_big(size: int) -> str:
    return (f"the file is {size:,} bytes; a mapping is at most {MAX_MAPPING_BYTES // 1024} KiB "
            "(limit: file size)")


class YamlLimit(Exception):
    """The YAML text is invalid or over a limit; the message is one problem line."""


def parse_yaml(text: str):
    """``yaml.safe_load`` that refuses, before constructing anything, a document that expands to
    more than :data:`MAX_YAML_NODES` nodes, nests deeper than :data:`MAX_YAML_DEPTH` or refers to
    itself. :class:`YamlLimit` with one line otherwise."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise YamlLimit(yaml_problem(exc)) from None
        except RecursionError:
            raise YamlLimit(_too_deep()) from None
        if node is None:
            return None
        _check_expansion(node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise YamlLimit(yaml_problem(exc)) from None
        except (ValueError, OverflowError) as exc:  # e.g. a timestamp out of range
            raise YamlLimit(f"not a usable YAML value: {exc}") from None
    finally:
        loader.dispose()


def _too_deep() -> str:
    return f"the YAML nests deeper than {MAX_YAML_DEPTH} levels (limit: nesting depth)"


def _check_expansion(root) -> None:
    """Count the nodes ``root`` has once every alias is expanded (each distinct node once, with a
    memo, iteratively), and its depth: a handful of nested aliases can stand for billions."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack = [(root, False, 1)]
    while stack:
        node, done, depth = stack.pop()
        key = id(node)
        if done:
            if isinstance(node, yaml.MappingNode):
                children = [c for pair in node.value for c in pair]
            else:
                children = node.value
            size = 1 + sum(sizes[id(c)] for c in children)
            active.discard(key)
            if size > MAX_YAML_NODES:
                raise YamlLimit(f"the YAML expands to more than {MAX_YAML_NODES:,} nodes (aliases "
                                "repeating aliases?); a mapping is far smaller (limit: YAML nodes)")
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in active:
            raise YamlLimit("the YAML refers to itself (a recursive alias)")
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        if depth > MAX_YAML_DEPTH:
            raise YamlLimit(_too_deep())
        active.add(key)
        stack.append((node, True, depth))
        children = ([c for pair in node.value for c in pair]
                    if isinstance(node, yaml.MappingNode) else node.value)
        stack.extend((c, False, depth + 1) for c in children if id(c) not in sizes)


def route_count_problem(raw) -> str | None:
    """The route limit, checked on the parsed YAML before anything walks the routes."""
    routes = raw.get("routes") if isinstance(raw, dict) else None
    if isinstance(routes, list) and len(routes) > MAX_ROUTES:
        return (f"routes: {len(routes):,} routes; a mapping has at most {MAX_ROUTES:,} "
                "(limit: routes)")
    return None


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address literal (no name lookup: this runs before any)."""
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def datagram_limit(host: str) -> int:
    return MAX_DATAGRAM_LOOPBACK if is_loopback(host) else MAX_DATAGRAM_NETWORK


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def message_size(address: str, values: int) -> int:
    """Bytes of one OSC message with ``values`` 32-bit arguments."""
    return _pad4(len(address.encode("utf-8")) + 1) + _pad4(1 + values + 1) + 4 * values


def wire_values(route) -> int:
    """How many values a (validated, non-spectrum) route sends per message: 3 for a colour as
    rgb, hsv, rgb8 or palette, else 1."""
    from bridge.mapping.colour import FORMATS

    part = route.get("colour_part")
    return 1 if part in (None, "channel") else FORMATS[part]


def bundle_problems(mapping, osc_override: tuple[str, int] | None = None) -> list[str]:
    """Per UDP OSC target: the bytes one tick sends (a bundle of every route's message, or each
    plain message) against the datagram limit for its host; one problem per target over it.
    ``osc_override``: the ``--osc`` host and port every target goes to instead."""
    from bridge.signals.catalog import SPECTRUM

    messages: dict[str, list[int]] = {}
    for route in mapping.routes:
        osc = route.get("osc")
        if not osc:
            continue
        signal = SPECTRUM.get(route["signal"])
        values = signal.size if signal is not None else wire_values(route)
        messages.setdefault(osc["target"], []).append(message_size(osc["address"], values))
    problems = []
    for name, sizes in messages.items():
        target = mapping.osc.get(name)
        if not target or target["protocol"] != "udp":
            continue  # TCP is a stream: no datagram to fit
        host = osc_override[0] if osc_override else target["host"]
        limit = datagram_limit(host)
        where = "loopback" if limit == MAX_DATAGRAM_LOOPBACK else f"a network host ({host})"
        if target["bundle"]:
            size = 16 + sum(4 + s for s in sizes)  # "#bundle\0" + timetag, size-prefixed elements
            what = f"one tick's bundle of {len(sizes)} messages is {size:,} bytes"
        else:
            size = max(sizes)
            what = f"its largest message is {size:,} bytes"
        if size > limit:
            problems.append(
                f"osc.{name}: {what}; a UDP datagram to {where} carries at most {limit:,} "
                "(limit: bundle size); send fewer routes to this target, split them over two "
                "targets, or use protocol: tcp")
    return problems
