"""``vjbridge schema``: every address a run with these options would send, from the code.

Why a command: a TouchDesigner patch, a desk preset or a user's own receiver is built against an
address list; this one is generated from the same pipeline assembly ``vjbridge run`` uses (the
mapping, the signal catalog and the outputs the loaded ONNX models declare), so it cannot drift.
The daemon sends the same schema, per OSC target, as ``/vjbridge/_info`` about once a second.
``--json`` is the machine-readable form (:mod:`bridge.runtime.stream_schema`).
"""

from __future__ import annotations

import argparse
import json

HELP = "print every address a run would send (type, range, unit, kind, digest); --json for tools"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", default="default", metavar="PATH|none",
                        help="as for vjbridge run (default: mappings/default.yaml; 'none' = raw)")
    parser.add_argument("--model", action="append", metavar="PATH",
                        help="ONNX model (repeatable; default: the shipped models)")
    parser.add_argument("--no-models", action="store_true", help="run no models")
    parser.add_argument("--osc", metavar="HOST:PORT", default=None,
                        help="as for vjbridge run: every OSC output to HOST:PORT")
    parser.add_argument("--osc-prefix", default="/vjbridge", help="OSC prefix with --mapping none")
    parser.add_argument("--json", action="store_true", help="the schema as JSON")


def run(args: argparse.Namespace) -> int:
    from bridge.runtime.engine import LIVE_SPEC
    from bridge.runtime.pipeline import build

    mapping = None if args.mapping.lower() == "none" else args.mapping
    models = [] if args.no_models else args.model
    stages, outputs, _ = build(LIVE_SPEC, mapping=mapping, models=models, osc=args.osc,
                               osc_prefix=args.osc_prefix)
    try:
        for stage in stages:  # the models declare their outputs when they start
            stage.start()
        schema = outputs[0].schema()
    finally:
        for stage in stages:
            stage.close()
    if args.json:
        print(json.dumps(schema, indent=2))
    else:
        from bridge.runtime.stream_schema import to_text

        print(to_text(schema))
    return 0
