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
- what each output kind limits for the mapping as a whole (``OutputKind.check_mapping``, run by
  :func:`bridge.mapping.validate.load_mapping`), e.g. the bundle size per UDP OSC target in
  :mod:`bridge.sinks.osc_kind`.

Everything here runs off the engine thread (the reload watcher, the control thread, start-up).
"""

from __future__ import annotations

import os
import stat

from bridge.errors import MappingError
from bridge.mapping.validate import NOT_TEXT, yaml_problem

MAX_MAPPING_BYTES = 256 * 1024  # the shipped mappings are 2-4 KB
MAX_YAML_NODES = 100_000  # after alias expansion; a mapping with 200 routes has ~3,000
MAX_YAML_DEPTH = 64  # a mapping nests 4 levels deep
MAX_ROUTES = 2_000



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
