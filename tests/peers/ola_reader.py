"""Read universes back from a running olad, one request per stdin line (run by /usr/bin/python3).

Why a separate process: ola-python is Debian's (``python3-protobuf`` and ``ola`` under the
system Python), not installable into the project's venv. Protocol: a line ``U`` (a universe
number) in, one JSON line out: ``{"universe": U, "data": [512 ints]}`` or ``{"error": "..."}``.
"""

import json
import sys

from ola.ClientWrapper import ClientWrapper


def main() -> None:
    wrapper = ClientWrapper()
    client = wrapper.Client()
    for line in sys.stdin:
        universe = int(line)
        box = {}

        def done(status, uni, data, box=box):
            box["ok"] = status.Succeeded()
            box["data"] = list(data) if status.Succeeded() else status.message
            wrapper.Stop()

        def timeout(box=box):
            if not box:
                box["ok"], box["data"] = False, "no answer from olad in 3 s"
                wrapper.Stop()

        client.FetchDmx(universe, done)
        wrapper.AddEvent(3000, timeout)
        wrapper.Run()
        if box["ok"]:
            data = (box["data"] + [0] * 512)[:512]
            out = {"universe": universe, "data": data}
        else:
            out = {"error": str(box["data"])}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
