"""Reading YAML with line numbers, so every error can name the file and line.

Uses PyYAML's SafeLoader (no object construction beyond plain data) and keeps, for each mapping
and sequence, the line of every key and item.  Duplicate keys, which PyYAML would silently
overwrite, are errors here: a duplicated rule field or parameter id must never pass unnoticed.
Documents are read through `read_yaml`, which also turns syntax errors into `SpecError`s.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import SpecError, Where


class MDict(dict):
    """A mapping from YAML that remembers its own line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class MList(list):
    """A sequence from YAML that remembers its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader that builds MDict/MList and rejects duplicate keys."""

    file = "<yaml>"

    def construct_yaml_map(self, node):  # type: ignore[override]
        data = MDict()
        data.line = node.start_mark.line + 1
        data.key_lines = {}
        yield data
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise SpecError(Where(self.file, key_node.start_mark.line + 1),
                                "a mapping key must be a plain value") from None
            if key in data:
                raise SpecError(Where(self.file, key_node.start_mark.line + 1),
                                f"duplicate key {key!r} (first at line {data.key_lines[key]})")
            data[key] = self.construct_object(value_node, deep=True)
            data.key_lines[key] = key_node.start_mark.line + 1

    def construct_yaml_seq(self, node):  # type: ignore[override]
        data = MList()
        data.line = node.start_mark.line + 1
        data.item_lines = [child.start_mark.line + 1 for child in node.value]
        yield data
        data.extend(self.construct_object(child, deep=True) for child in node.value)


# YAML 1.2 core booleans: only true/false.  YAML 1.1 (PyYAML's default) reads on/off/yes/no as
# booleans, so the rule key `on:` and the UI values On/Off would silently become True/False.
_MarkedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_MarkedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _MarkedLoader.construct_yaml_map)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _MarkedLoader.construct_yaml_seq)


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document (safe subset) with line marks, or raise SpecError."""
    loader = _MarkedLoader(text)
    loader.file = file
    try:
        return loader.get_single_data()
    except SpecError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or exc.context or "malformed YAML"
        raise SpecError(Where(file, line), f"YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise SpecError(Where(file), f"YAML error: {exc}") from None
    finally:
        loader.dispose()


def read_yaml(path: Path | str, *, display: str | None = None) -> Any:
    """Read and parse a YAML file; errors name `display` (default: the path)."""
    path = Path(path)
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Where(name), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(Where(name), f"cannot read: {exc}") from None
    return parse_yaml(text, name)


def line_of(root: Any, path: Iterable[Any]) -> int:
    """The line of the deepest element along `path` (keys / indexes) that has one."""
    line = getattr(root, "line", 0)
    node = root
    for step in path:
        if isinstance(node, MDict) and step in node:
            line = node.key_lines.get(step, line)
        elif isinstance(node, MList) and isinstance(step, int) and step < len(node):
            line = node.item_lines[step]
        else:
            break
        node = node[step]
    return line


def validate(doc: Any, schema: dict, file: str) -> None:
    """Validate against a JSON Schema; the first error (by position) names file and line."""
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    errors = list(validator.iter_errors(doc))
    if not errors:
        return

    def best(err: Any) -> Any:
        # oneOf/anyOf errors hide the useful one among their context
        while err.context:
            deepest = max(err.context, key=lambda e: len(e.absolute_path))
            if len(deepest.absolute_path) <= len(err.absolute_path):
                break
            err = deepest
        return err

    errors = [best(e) for e in errors]
    errors.sort(key=lambda e: line_of(doc, e.absolute_path))
    err = errors[0]
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    raise SpecError(Where(file, line_of(doc, err.absolute_path)), f"{where}: {_message(err)}")


def _message(err: Any) -> str:
    """A schema error in words; never a dump of the whole offending instance."""
    subs = err.schema.get(err.validator) if isinstance(err.schema, dict) else None
    if err.validator in ("anyOf", "oneOf") and isinstance(subs, list) and subs and all(
            set(x) == {"required"} for x in subs):
        keys = [f"`{k}:`" for x in subs for k in x["required"]]
        return f"missing {' or '.join(keys)}"
    if err.validator == "additionalProperties":
        return _short(err.message.replace("Additional properties are not allowed",
                                          "unknown key(s)"))
    if err.validator in ("anyOf", "oneOf", "not"):
        return f"does not match any allowed form ({err.validator} in the schema)"
    return _short(err.message)


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + " ..."


def load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
