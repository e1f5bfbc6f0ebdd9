"""``vjbridge check MAPPING...``: validate mappings; print every problem with its key path.

Why a separate command: a VJ should learn about a typo before the show, not from a silent output.
Exit 1 with one line per problem (``file: routes[3].midi.cc: 130 is out of range 0..127``), or
exit 0 with a summary of targets and routes. ``--schema`` prints the generated mapping reference.
A shipped mapping is checked by its name (``vjbridge check default``), which also prints where the
installed file is: the place to copy it from for an edit.
"""

from __future__ import annotations

import argparse
import sys

HELP = "validate mapping YAML files: every error with its key path, or a summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mappings", nargs="*", metavar="MAPPING",
                        help="mapping YAML file(s), or a shipped mapping's name (default, ...)")
    parser.add_argument("--schema", action="store_true",
                        help="print the mapping reference (every key, default, range) as Markdown")
    parser.add_argument("--config", metavar="FILE", action="append", default=[],
                        help="validate a run-config file (vjbridge run --config FILE) instead of, "
                             "or as well as, mappings (repeatable)")


def run(args: argparse.Namespace) -> int:
    from bridge.errors import ConfigError, MappingError
    from bridge.mapping.schema import schema_markdown
    from bridge.mapping.validate import load_mapping
    from bridge.resources import resolve_mapping, shipped_mapping_names

    if args.schema:
        print(schema_markdown())
        if not args.mappings:
            return 0
    if args.config:
        failed_configs = _check_configs(args.config)
        if not args.mappings:
            return 1 if failed_configs else 0
    else:
        failed_configs = 0
    if not args.mappings:
        raise ConfigError("give a mapping file to check, e.g. vjbridge check my-mapping.yaml, or "
                          f"a shipped one's name: {', '.join(shipped_mapping_names())}")
    failed = 0
    for text in args.mappings:
        path = resolve_mapping(text)  # ConfigError naming the shipped mappings for a bad name
        try:
            mapping = load_mapping(path)
        except MappingError as exc:
            failed += 1
            _print_problems(path, exc.problems)
            continue
        print(mapping.summary())
        print(f"{path}: OK")
    return 1 if failed or failed_configs else 0


def _print_problems(path, problems) -> None:
    """``FILE: N problems:`` then one ``FILE: problem`` line each (mappings and run configs)."""
    n = len(problems)
    print(f"{path}: {n} problem{'s' if n != 1 else ''}:", file=sys.stderr)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)


def _check_configs(paths: list[str]) -> int:
    """Validate run-config files like mappings: every problem with its key path; the count failed."""
    from bridge.errors import RunConfigError
    from bridge.runtime.runconfig import load_config, summary

    failed = 0
    for path in paths:
        try:
            cfg = load_config(path)
        except RunConfigError as exc:
            failed += 1
            _print_problems(path, exc.problems)
            continue
        print(summary(cfg, path))
        if not _check_config_mapping(cfg, path):
            failed += 1
            continue
        print(f"{path}: OK")
    return failed


def _check_config_mapping(cfg: dict, path: str) -> bool:
    """The mapping a run config names must be valid too: its problems, prefixed with ``mapping``."""
    from bridge.errors import ConfigError, MappingError
    from bridge.mapping.validate import load_mapping
    from bridge.resources import resolve_mapping

    if cfg["mapping"].lower() == "none":
        return True
    try:
        load_mapping(resolve_mapping(cfg["mapping"]))
    except (MappingError, ConfigError) as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        for problem in problems:
            print(f"{path}: mapping {cfg['mapping']}: {problem}", file=sys.stderr)
        return False
    return True
