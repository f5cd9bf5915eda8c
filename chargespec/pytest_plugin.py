"""pytest plugin: `pytest --chargespec-adapter "COMMAND"` runs every conformance vector as a test.

Each test of each vector file becomes a pytest item named `FILE::tcId-comment`, so `-k`, `-x`,
`--junitxml` and a CI's test annotations work on vectors as on any test.  The adapter is started
once per session (`reference`, `module:Class` or a stdio command) and restarted by the runner
after a crash or hang; its failure fails that item only.  Without the option the plugin does
nothing.  Registered through the `pytest11` entry point of the chargespec package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("chargespec", "chargespec conformance vectors")
    group.addoption("--chargespec-adapter", metavar="CMD", default=None,
                    help="run the conformance vectors against this adapter (a stdio command, "
                         "'reference' or 'module:Class')")
    group.addoption("--chargespec-vectors", metavar="DIR", default=None,
                    help="directory of vector files (default: ./vectors, else the packaged "
                         "reference vectors are not shipped: give the directory)")
    group.addoption("--chargespec-timeout", type=float, default=5.0, metavar="S",
                    help="seconds per step for a stdio adapter (default 5)")


def _vector_dir(config: Any) -> Path:
    given = config.getoption("--chargespec-vectors")
    d = Path(given) if given else Path(config.rootpath) / "vectors"
    if not d.is_dir() or not any(d.glob("*.json")):
        raise pytest.UsageError(f"--chargespec-adapter: no vector files in {d} "
                                "(give --chargespec-vectors DIR)")
    return d


class VectorFile(pytest.File):
    def collect(self):
        from chargespec.conform import VectorFileError, load_vectors
        try:
            doc = load_vectors(self.path)
        except VectorFileError as exc:
            raise self.CollectError(str(exc)) from None
        for group in doc["testGroups"]:
            for test in group["tests"]:
                name = f"{test['tcId']}-{test['comment']}"
                yield VectorItem.from_parent(self, name=name, doc=doc, group=group, test=test)


class VectorItem(pytest.Item):
    def __init__(self, *, doc: dict, group: dict, test: dict, **kw: Any) -> None:
        super().__init__(**kw)
        self.doc, self.group, self.test = doc, group, test
        for flag in test["flags"]:
            self.user_properties.append(("flag", flag))

    def runtest(self) -> None:
        from chargespec.conform import run_test, side_by_side
        adapter = _adapter(self.config)
        o = run_test(adapter, self.path.name, self.doc, self.group, self.test)
        if o.status == "unsupported":
            pytest.skip(f"unsupported: {o.detail}")
        if o.status == "failed":
            raise VectorFailure(o.detail + ("\n  after " + " -> ".join(o.events) + "\n"
                                            + side_by_side(o) if o.step else ""))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, VectorFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"{self.path.name}::{self.name}"


class VectorFailure(AssertionError):
    pass


_ADAPTERS: dict[int, Any] = {}


def _adapter(config: Any) -> Any:
    key = id(config)
    if key not in _ADAPTERS:
        import chargespec.ocppj  # noqa: F401 - registers the `ocppj` transport
        from chargespec.conform import AdapterError, make_adapter
        try:
            _ADAPTERS[key] = make_adapter(config.getoption("--chargespec-adapter"),
                                          config.getoption("--chargespec-timeout"))
        except (AdapterError, ImportError, AttributeError, OSError) as exc:
            raise pytest.UsageError(f"--chargespec-adapter: cannot start: {exc}") from None
    return _ADAPTERS[key]


def pytest_collection_modifyitems(session: Any, config: Any, items: list) -> None:
    if not config.getoption("--chargespec-adapter"):
        return
    for path in sorted(_vector_dir(config).glob("*.json")):
        if path.name in ("manifest.json", "coverage-report.json"):
            continue
        node = VectorFile.from_parent(session, path=path)
        try:
            items.extend(node.collect())
        except node.CollectError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_unconfigure(config: Any) -> None:
    adapter = _ADAPTERS.pop(id(config), None)
    if adapter is not None:
        adapter.close()
