"""The record of what a generated directory was generated from (chargespec/fingerprint.py):
the quick drift check may skip regeneration only when every input and every file is as
recorded; anything else falls back to the full comparison."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from chargespec import fingerprint
from chargespec.cli import main
from chargespec.loader import default_spec_dir

FILES = {"a.json": b'{"tests": 1}\n', "sub/b.md": b"# b\n"}


def _written(tmp_path: Path, inputs: str = "i" * 64) -> Path:
    out = tmp_path / "out"
    for name, data in FILES.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    fingerprint.write_record(out, inputs, FILES)
    return out


def test_a_directory_as_recorded_is_unchanged(tmp_path):
    out = _written(tmp_path)
    why = fingerprint.unchanged(out, "i" * 64)
    assert why is not None and "2 files" in why


@pytest.mark.parametrize("spoil", ["edit", "remove", "inputs", "record-garbage", "record-gone",
                                   "record-empty", "traversal", "symlink"])
def test_anything_not_as_recorded_means_the_full_check(tmp_path, spoil):
    out = _written(tmp_path)
    record = out / fingerprint.GENERATED_FROM
    inputs = "i" * 64
    if spoil == "edit":
        (out / "a.json").write_bytes(b'{"tests": 2}\n')
    elif spoil == "remove":
        (out / "sub" / "b.md").unlink()
    elif spoil == "inputs":
        inputs = "j" * 64
    elif spoil == "record-garbage":
        record.write_bytes(b"\xff{not json")
    elif spoil == "record-gone":
        record.unlink()
    elif spoil == "record-empty":
        record.write_text(json.dumps({"inputs": inputs, "files": {}}))
    elif spoil == "traversal":
        outside = tmp_path / "x"
        outside.write_bytes(b"x")
        body = json.loads(record.read_text())
        body["files"] = {"../x": hashlib.sha256(b"x").hexdigest()}  # the right hash, outside
        record.write_text(json.dumps(body))
    elif spoil == "symlink":
        (out / "a.json").unlink()
        (out / "a.json").symlink_to(tmp_path / "elsewhere.json")
        (tmp_path / "elsewhere.json").write_bytes(FILES["a.json"])
    assert fingerprint.unchanged(out, inputs) is None


def test_the_inputs_follow_the_spec_the_read_directories_and_the_tools(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(default_spec_dir(), spec)
    read = tmp_path / "read"
    read.mkdir()
    (read / "v.json").write_text("{}")
    base = fingerprint.inputs(spec, [read])
    assert fingerprint.inputs(spec, [read]) == base  # deterministic
    (read / fingerprint.GENERATED_FROM).write_text("the record is not an input")
    assert fingerprint.inputs(spec, [read]) == base
    (read / "v.json").write_text("[]")
    assert fingerprint.inputs(spec, [read]) != base
    (read / "v.json").write_text("{}")
    params = spec / "parameters.yaml"
    params.write_text(params.read_text() + "\n# one more line\n")
    assert fingerprint.inputs(spec, [read]) != base
    assert fingerprint.inputs(spec, [read], ["no-such-tool-here"]) != \
        fingerprint.inputs(spec, [read])


def test_quick_regenerates_when_the_record_does_not_hold(tmp_path, monkeypatch, capsys):
    """A vector edited by hand after generation: --quick sees the recorded hash fail, falls
    back to regenerating (here a stand-in generator) and reports the drift."""
    import chargespec.vectors as vectors
    out = tmp_path / "vectors"
    generated = {"a.json": b"generated\n",
                 "manifest.json": b'{"files": {"a.json": {"numberOfTests": 1}}}\n'}
    monkeypatch.setattr(vectors, "build", lambda engine, previous=None: dict(generated))
    assert main(["vectors", "--out", str(out)]) == 0
    assert (out / fingerprint.GENERATED_FROM).is_file()
    capsys.readouterr()
    assert main(["vectors", "--out", str(out), "--check", "--quick"]) == 0
    assert "inputs unchanged since generation" in capsys.readouterr().out
    monkeypatch.setattr(vectors, "build", lambda engine, previous=None: pytest.fail("rebuilt"))
    assert main(["vectors", "--out", str(out), "--check", "--quick"]) == 0
    (out / "a.json").write_bytes(b"edited by hand\n")
    monkeypatch.setattr(vectors, "build", lambda engine, previous=None: dict(generated))
    assert main(["vectors", "--out", str(out), "--check", "--quick"]) == 1
    assert "a.json: differs from the spec" in capsys.readouterr().err
