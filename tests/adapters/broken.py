"""A reference adapter that breaks on purpose at its third event: `exit`, `hang` or `garbage`;
or, with `short`, one that claims the batch extension and answers a `run` with one observation
too few."""

import json
import sys
import time

from chargespec.models.stdio import observed_names
from chargespec.reference import Reference

mode = sys.argv[1]
model = Reference()
events = 0
for line in sys.stdin:
    req = json.loads(line)
    if req["type"] == "hello":
        answer = {"type": "hello", "name": f"broken ({mode})", "observations": observed_names(model.engine.machine),
                  "batch": mode == "short"}
    elif req["type"] == "reset":
        model.reset(req["config"])
        answer = {"type": "ready"}
    elif req["type"] == "event":
        events += 1
        if events == 3:
            if mode == "exit":
                sys.exit(3)
            if mode == "hang":
                time.sleep(3600)
            if mode == "garbage":
                print("this is not json", flush=True)
                continue
        answer = {"type": "observation", "observation": model.step(req["event"])}
    elif req["type"] == "run":
        model.reset(req["config"])
        seen = [model.step(ev) for ev in req["events"]]
        answer = {"type": "observations", "observations": seen[:-1]}
    else:
        break
    print(json.dumps(answer), flush=True)
