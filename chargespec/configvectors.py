"""The configuration vectors (`vectors/configuration.json`): GetConfiguration and
ChangeConfiguration over every key of spec/configuration_keys.yaml (interpretation CONFIG-KEYS).

A charge point that answers Accepted and changes nothing, reads a key from the wrong setting,
accepts a value one past its bound, or treats "TRUE" differently from "true" passes every
session vector: those run under a configuration set before the test.  These tests reach the
keys themselves:

  read       every key under the defaults, under a configuration where every writable key's
             parameter differs from its default, and each derived key under each value of the
             setting it is derived from;
  classes    every writable key with every class of value: for a boolean each letter case and
             what is not a boolean; for an integer its bounds, one past each, a sign, a fraction,
             nothing and words; for a list members in any case, none, an unknown member, an empty
             item; for the phase rotation each connector's item and malformed items.  Every
             change is read back with GetConfiguration, so an Accepted that changed nothing
             fails, and so does a Rejected that changed something;
  read-only  every read-only key refuses a change and keeps its value; an unknown key is
             NotSupported;
  effect     every writable key that some rule reads, changed at the start of a test: the
             shortest events after which the old and the new value act differently (a
             breadth-first search under the new value that steps the old one alongside),
             expected under the new one.
"""

from __future__ import annotations

from typing import Any

from chargespec import configkeys
from chargespec.errors import SpecError
from chargespec.expr import names
from chargespec.models.step import Engine
from chargespec.models.types import thaw

# value classes of each format: (the text sent, what it is)
BOOL_CLASSES = (("true", "true"), ("false", "false"), ("TRUE", "upper case"),
                ("False", "capitalised"), ("1", "a digit"), ("yes", "a word"), ("", "nothing"))
CSL_CLASSES = (("Voltage,Energy.Active.Import.Register", "two members"),
               ("current.import, SoC", "members in another case, with a space"),
               ("", "no member"), ("Voltage,Fuel.Level", "an unknown member"),
               ("Voltage,,SoC", "an empty item"))
ROTATION_CLASSES = (("1.STR", "connector 1"), ("0.TRS", "connector 0 alone"),
                    ("0.RST,1.RTS", "both connectors"), ("STR", "no connector"),
                    ("2.STR", "an unknown connector"), ("1.XYZ", "an unknown rotation"),
                    ("1.STR,1.RST", "a connector twice"))


def _int_classes(k: configkeys.ConfigKey) -> list[tuple[str, str]]:
    lo, hi = k.lo or 0, k.hi or 0
    out = [(str(lo), "the lower bound"), (str(hi), "the upper bound"),
           (str(hi + 1), "one past the upper bound")]
    if lo > 0:
        out.append((str(lo - 1), "one below the lower bound"))
    return out + [("-1", "a sign"), ("1.5", "a fraction"), ("", "nothing"),
                  ("ten", "a word"), (" 5", "a space")]


def value_classes(k: configkeys.ConfigKey) -> list[tuple[str, str]]:
    """The values a change of `k` is tried with, and what each is."""
    if k.format == "bool":
        return list(BOOL_CLASSES)
    if k.format == "int":
        return _int_classes(k)
    if k.format == "csl":
        return list(CSL_CLASSES)
    return list(ROTATION_CLASSES)


def _changed_values(engine: Engine) -> dict[str, Any]:
    """A configuration where every writable key's parameter differs from its default."""
    out: dict[str, Any] = {}
    for k in engine.keys.keys:
        if k.parameter is None or k.readonly:
            continue
        p = engine.spec.parameters[k.parameter]
        d = thaw(p.default)
        if k.format == "bool":
            out[k.parameter] = not d
        elif k.format == "int":
            out[k.parameter] = p.min if d != p.min else p.max
        elif k.format == "csl":
            out[k.parameter] = ["Voltage"] if d != ["Voltage"] else []
        else:
            out[k.parameter] = next(v for v in p.values if v != d)
    return out


def _test(engine: Engine, config: Any, events: list[Any], comment: str) -> dict[str, Any]:
    from chargespec.vectorform import make_test
    return make_test(engine, config, events, comment, flag="CONFIG-KEYS")


def _group(engine: Engine, values: dict[str, Any], tests: list[dict[str, Any]]
           ) -> dict[str, Any]:
    from chargespec.vectorform import initial_json
    config = engine.config(values)
    return {"config": values, "initial": initial_json(engine, config), "tests": tests}


def groups(engine: Engine) -> list[dict[str, Any]]:
    """The configuration vectors' groups, in a fixed order (byte-stable)."""
    keys = engine.keys
    ev = engine.event
    default = engine.config({})
    out = []
    # read: every key, then by name in another letter case with an unknown key among them
    first = [_test(engine, default, [ev("get_configuration", key=[])],
                   "GetConfiguration without keys lists every key with its value under the "
                   "factory defaults"),
             _test(engine, default, [ev("get_configuration", key=[
                 keys.keys[0].name.upper(), "NoSuchKey", keys.keys[-1].name.lower()])],
                   "GetConfiguration by name: the key names compared without letter case, an "
                   "unknown key reported as unknownKey")]
    # classes and read-only keys, under the defaults
    for k in keys.keys:
        if k.readonly:
            first.append(_test(engine, default, [
                ev("change_configuration", key=k.name, value=configkeys.render(k, default)),
                ev("get_configuration", key=[k.name])],
                f"{k.name} is read-only: a change is Rejected and the value stays"))
            continue
        for text, what in value_classes(k):
            first.append(_test(engine, default, [
                ev("change_configuration", key=k.name, value=text),
                ev("get_configuration", key=[k.name])],
                f"ChangeConfiguration {k.name} = {text!r} ({what}), then read back"))
    first.append(_test(engine, default, [
        ev("change_configuration", key="NoSuchKey", value="true"),
        ev("get_configuration", key=["NoSuchKey"])],
        "ChangeConfiguration of a key the charge point does not know is NotSupported"))
    out.append(_group(engine, {}, first))
    changed = _changed_values(engine)
    out.append(_group(engine, changed, [_test(
        engine, engine.config(changed), [ev("get_configuration", key=[])],
        "GetConfiguration under a configuration where every writable key differs from its "
        "factory default")]))
    # each derived key under each value of its setting
    derived: dict[str, list[configkeys.ConfigKey]] = {}
    for k in keys.keys:
        if k.derived_from is not None:
            derived.setdefault(k.derived_from, []).append(k)
    for setting, ks in derived.items():
        for value in engine.spec.parameters[setting].values:
            values = {setting: value}
            out.append(_group(engine, values, [_test(
                engine, engine.config(values), [ev("get_configuration",
                                                   key=[k.name for k in ks])],
                f"{', '.join(k.name for k in ks)} under {setting} = {value}")]))
    out += effect_groups(engine)
    return out


# ---------------------------------------------------------------- a change taking effect

def effect_groups(engine: Engine) -> list[dict[str, Any]]:
    """For each writable boolean key some rule reads and each of its two values, a test: the
    change, then the shortest events after which the old and the new value act differently,
    under the factory defaults or, where they hide the difference, the key's `effect_under`
    settings (spec/configuration_keys.yaml)."""
    read = {p for r in engine.machine.rules if r.when is not None for p in names(r.when)}
    out = []
    for k in engine.keys.keys:
        if k.readonly or k.format != "bool" or k.parameter not in read:
            continue
        for new in (True, False):
            values = {**dict(k.effect_under), k.parameter: not new}
            path = _distinguish(engine, engine.config(values),
                                engine.config({**values, k.parameter: new}))
            if path is None:
                raise SpecError(k.where, f"key {k.name}: no events show a change to {new} under "
                                 f"{dict(k.effect_under) or 'the factory defaults'}; name the "
                                 f"settings that do in its effect_under "
                                 f"(spec/configuration_keys.yaml)")
            text = "true" if new else "false"
            change = engine.event("change_configuration", key=k.name, value=text)
            comment = (f"{k.name} changed to {text}, then the shortest events after which the "
                       f"old and the new value differ: {', '.join(e.label() for e in path)}")
            values = {p: v for p, v in values.items()
                      if thaw(engine.spec.parameters[p].default) != v}
            out.append(_group(engine, values, [_test(
                engine, engine.config(values), [change, *path], comment)]))
    return out


def _distinguish(engine: Engine, old: Any, new: Any) -> list[Any] | None:
    """The shortest events (BFS under `new`, within the pairwise bound) after which a charge
    point still under `old` shows something else; None if there are none."""
    from chargespec.checkers.check import pairwise_bound
    from chargespec.checkers.explore import explore, session_events
    from chargespec.models.stdio import projection
    from chargespec.vectorform import offline_events
    project = projection(engine.machine)

    def differs(config: Any, s: Any, ev: Any, s2: Any, out: Any) -> str | None:
        t, o = engine.step(old, s, ev)
        return "differs" if project(o, t) != project(out, s2) else None
    events = session_events(engine) + offline_events(engine)
    x = explore(engine, new, {"differs": differs}, events=events, bound=pairwise_bound)
    for v in x.violations:
        path = list(v.trace)
        # the charge point under `old` ran its own way to the step: make sure it shows
        ra, rb = engine.run(old, path), engine.run(new, path)
        if any(project(oa, sa) != project(ob, sb)
               for (_, sa, oa), (_, sb, ob) in zip(ra, rb)):
            return path
    return None


def summary(engine: Engine, doc: dict[str, Any]) -> dict[str, Any]:
    """What the configuration vectors cover, for coverage-report.json."""
    keys = engine.keys.keys
    read, changed = set(), set()
    for g in doc["testGroups"]:
        for t in g["tests"]:
            for s in t["steps"]:
                e = s["event"]
                if e["name"] == "get_configuration":
                    for m in s["expect"]["messages"]:
                        for item in m["fields"].get("configurationKey", []):
                            read.add(item["key"])
                elif e["name"] == "change_configuration":
                    changed.add(e["key"])
    writable = [k.name for k in keys if not k.readonly]
    effects = sum(1 for g in doc["testGroups"] for t in g["tests"]
                  if t["steps"][0]["event"]["name"] == "change_configuration"
                  and any(s["event"]["name"] not in configkeys.EVENTS for s in t["steps"]))
    return {"keys": len(keys), "keysRead": sum(1 for k in keys if k.name in read),
            "writableKeys": len(writable),
            "writableKeysChanged": sum(1 for n in writable if n in changed),
            "readOnlyKeysRefused": sum(1 for k in keys if k.readonly and k.name in changed),
            "effectTests": effects}
