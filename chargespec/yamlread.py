"""Reading YAML with line numbers, so every error can name the file and line.

Uses PyYAML's SafeLoader (no object construction beyond plain data) and keeps, for each mapping
and sequence, the line of every key and item.  Duplicate keys, which PyYAML would silently
overwrite, are errors here: a duplicated rule field or parameter id must never pass unnoticed.
Documents are read through `read_yaml`, which also turns syntax errors into `SpecError`s.

Every input has limits, checked while the text is composed and before anything walks the
result (schema validation, the type checker): its size (`MAX_BYTES`), its nesting
(`MAX_DEPTH`), its size once aliases are expanded (`MAX_NODES`: eight levels of "billion
laughs" fit in 500 bytes), and the digits of an integer (`MAX_DIGITS`).  A control character,
a tab where YAML forbids one, bad UTF-8: each is a `SpecError` with the file and line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import SpecError, Where

MAX_BYTES = 8 << 20     # one YAML document (the spec's largest file is under 200 kB)
MAX_DEPTH = 64          # nested mappings and sequences
MAX_NODES = 100_000     # nodes once every alias is expanded (the spec: under 10,000)
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DIGITS = 64         # digits of an integer (Python refuses above 4,300, slowly)


class MDict(dict):
    """A mapping from YAML that remembers its own line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class MList(list):
    """A sequence from YAML that remembers its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _Marks:
    """What both loaders add to PyYAML's safe loading: MDict/MList with lines, duplicate keys
    refused, the limits kept while composing."""

    file = "<yaml>"
    _depth = 0

    def _limit(self, node_or_mark: Any, message: str) -> SpecError:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        return SpecError(Where(self.file, mark.line + 1 if mark is not None else 0), message)

    def compose_node(self, parent, index):  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._limit(self.peek_event().start_mark,
                                  f"nested deeper than {MAX_DEPTH} levels")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.ScalarNode) and _SURROGATE.search(node.value):
            raise self._limit(node, "a lone surrogate escape (\\ud800-\\udfff) is not a "
                                    "character")
        return node

    def compose_document(self):  # type: ignore[override]
        node = super().compose_document()
        _expanded_size(node, self)
        return node

    def construct_yaml_int(self, node):  # type: ignore[override]
        text = str(node.value)
        if sum(c.isalnum() for c in text) > MAX_DIGITS:
            raise self._limit(node, f"an integer of more than {MAX_DIGITS} digits")
        return super().construct_yaml_int(node)

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


class _PyLoader(_Marks, yaml.SafeLoader):
    """The pure-Python reader, scanner and parser (used when PyYAML was built without libyaml)."""


try:
    from yaml.cyaml import CParser as _CParser
except ImportError:  # PyYAML without libyaml: the pure-Python loader does the same, 6x slower
    _CParser = None

if _CParser is not None:
    class _CLoader(_Marks, yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor,
                   yaml.resolver.Resolver):
        """libyaml's reader, scanner and parser (6x faster on the spec's files) under the same
        Python composer and constructor, so the limits, marks and values are the same."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    LOADERS: tuple[type, ...] = (_CLoader, _PyLoader)
else:
    LOADERS = (_PyLoader,)

# YAML 1.2 core booleans: only true/false.  YAML 1.1 (PyYAML's default) reads on/off/yes/no as
# booleans, so the rule key `on:` and the UI values On/Off would silently become True/False.
_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _loader in LOADERS:
    _loader.yaml_implicit_resolvers = {k: list(v) for k, v in _RESOLVERS.items()}
    _loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"))
    _loader.add_constructor("tag:yaml.org,2002:int", _Marks.construct_yaml_int)
    _loader.add_constructor("tag:yaml.org,2002:map", _Marks.construct_yaml_map)
    _loader.add_constructor("tag:yaml.org,2002:seq", _Marks.construct_yaml_seq)
_Loader = LOADERS[0]


def _expanded_size(root: Any, loader: _Marks) -> int:
    """The number of nodes of the document once every alias is expanded (a node reached by
    several aliases counts each time); SpecError above MAX_NODES or on a recursive alias.
    Iterative, each distinct node visited once."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.ScalarNode):
            size[key] = 1
            continue
        children = [c for pair in node.value for c in pair] \
            if isinstance(node, yaml.MappingNode) else list(node.value)
        if done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in children)
            if total > MAX_NODES:
                raise loader._limit(node, f"expands to more than {MAX_NODES:,} nodes "
                                          f"(anchors and aliases)")
            size[key] = total
            continue
        if key in size:
            continue
        if key in on_path:
            raise loader._limit(node, "a recursive alias (an anchor used inside itself)")
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in on_path:
                raise loader._limit(c, "a recursive alias (an anchor used inside itself)")
            if id(c) not in size:
                stack.append((c, False))
    return size.get(id(root), 0)


def parse_yaml(text: str, file: str) -> Any:
    """Parse one YAML document (safe subset) with line marks, or raise SpecError."""
    if len(text) > MAX_BYTES:
        raise SpecError(Where(file), f"{len(text):,} characters, more than the limit of "
                                     f"{MAX_BYTES:,}")
    loader = None
    surrogate = _SURROGATE.search(text)
    if surrogate:  # libyaml reads UTF-8, where a lone surrogate cannot be written
        raise SpecError(Where(file, text.count("\n", 0, surrogate.start()) + 1),
                        "a lone surrogate (\\ud800-\\udfff) is not a character")
    try:
        loader = _Loader(text)  # the reader checks the characters here already
        loader.file = file
        return loader.get_single_data()
    except SpecError:
        raise
    except yaml.reader.ReaderError as exc:
        # libyaml counts the offset in UTF-8 bytes, PyYAML's reader in characters
        raw = text if _Loader is _PyLoader else text.encode("utf-8")
        line = raw[:max(0, exc.position)].count("\n" if raw is text else b"\n") + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        what = (f"character {char!r} is not allowed in YAML"
                if isinstance(char, str) else str(exc.reason)[:200])
        raise SpecError(Where(file, line), what) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context == "while scanning a simple key" and exc.context_mark:
            mark = exc.context_mark  # the key without its ':' (the readers differ after it)
        line = mark.line + 1 if mark else 0
        what = exc.problem or exc.context or "malformed YAML"
        if what == "found invalid Unicode character escape code":  # libyaml's words
            what = "an escape that is not a character (a lone surrogate \\ud800-\\udfff, " \
                   "or above \\U0010ffff)"
        if what == "found character that cannot start any token" and mark:  # libyaml's words
            lines = text.split("\n")
            if mark.line < len(lines) and mark.column < len(lines[mark.line]):
                what = f"found character {lines[mark.line][mark.column]!r} that cannot start " \
                       f"any token"
        raise SpecError(Where(file, line), f"YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise SpecError(Where(file), f"YAML error: {str(exc)[:300]}") from None
    except RecursionError:
        raise SpecError(Where(file), "nested too deep") from None
    except ValueError as exc:  # e.g. a number Python cannot convert
        raise SpecError(Where(file), f"a value cannot be read: {str(exc)[:200]}") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: Path | str, *, display: str | None = None) -> Any:
    """Read and parse a YAML file; errors name `display` (default: the path)."""
    path = Path(path)
    name = display or str(path)
    try:
        if path.exists() and not path.is_file():
            raise SpecError(Where(name), "not a regular file")
        if path.stat().st_size > MAX_BYTES:
            raise SpecError(Where(name), f"{path.stat().st_size:,} bytes, more than the limit "
                                         f"of {MAX_BYTES:,}")
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
