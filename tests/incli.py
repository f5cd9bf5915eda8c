"""`chargespec ARGS` run in the test's own process: the exit status, stdout and stderr of
`chargespec.cli.main`, as `subprocess.run` would give them.  A subprocess per case costs a
second of start-up; tests/test_cli.py runs the real command line."""

from __future__ import annotations

import contextlib
import io
import os
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: object) -> types.SimpleNamespace:
    from chargespec.cli import main
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's own usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(cwd)
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
