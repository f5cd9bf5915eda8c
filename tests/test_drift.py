"""The committed vectors/ and reports/ are what the spec generates, byte for byte (the report's
timing.js excepted): `chargespec vectors --check --quick` and `chargespec report --check
--quick`, run as tests so that `make test` spreads them over the cores with the rest of the
suite.  `--quick` regenerates only when the inputs recorded at generation (spec, source,
library versions; chargespec/fingerprint.py) are not today's or a file lost its recorded bytes:
a commit that changes the spec or the generator without regenerating fails here in full.
`make test-slow` regenerates both in full whatever the record says."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from chargespec.cli import main

REPO = Path(__file__).resolve().parents[1]


def check(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(cwd)
    return code, out.getvalue() + err.getvalue()


def test_the_committed_vectors_are_what_the_spec_generates():
    code, text = check("vectors", "--check", "--quick")
    assert code == 0 and " 0 drifting" in text, text


def test_the_committed_report_is_what_the_spec_generates():
    code, text = check("report", "--check", "--quick")
    assert code == 0 and " 0 drifting" in text, text
