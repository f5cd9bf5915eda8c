"""The one error hierarchy of chargespec.

Every error that reaches a user names where it comes from: the spec file and line, or the
machine, state, event and configuration involved.  The CLI maps `SpecError` and `InputError`
to exit status 2 (bad input) and prints `str(error)`, which is written to be read as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Where:
    """A place in a YAML file: path and 1-based line (0 when unknown)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class ChargespecError(Exception):
    """Base of every error chargespec raises on purpose."""


class SpecError(ChargespecError):
    """The specification (or a config/scenario file) is malformed; names file and line."""

    def __init__(self, where: Where | None, message: str):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class InputError(ChargespecError):
    """A user input outside the spec (an event, a configuration value) is not acceptable."""


class ModelError(ChargespecError):
    """The spec, run, is not a deterministic, complete machine at some state and event.

    Raised by the step function when no rule or more than one rule applies; the message names
    the machine, configuration, state, event and the rules involved.
    """


class AdapterError(ChargespecError):
    """The implementation under test crashed, hung or answered something that is not the
    protocol: that test fails (`chargespec conform` goes on with the next)."""


class VectorFileError(ChargespecError, ValueError):
    """A vector file that is not JSON, breaks vectors.schema.json or names what the spec does
    not know; names the file and the place (exit 2)."""
