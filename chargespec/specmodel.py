"""The specification as checked, typed Python objects: what the loader builds from spec/*.yaml.

Everything downstream (the step function, the transitions machine, the checkers, the vector
generator, the diagrams) reads these objects and never the YAML.  They are frozen: a loaded spec
is a value.  Expressions are kept as AST (`chargespec.expr`), so each back end compiles them its
own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Where
from .expr import Expr, Type


@dataclass(frozen=True)
class Ref:
    """Where a spec element comes from: a manual section and/or an interpretation id."""

    manual: str | None = None
    interpretation: str | None = None

    def __str__(self) -> str:
        return " / ".join(x for x in (self.manual, self.interpretation) if x)


@dataclass(frozen=True)
class Parameter:
    id: str
    ui_name: str
    menu: str
    kind: str  # bool | int | enum | token | list
    type: Type  # its type in expressions
    values: tuple[str, ...]  # enum values (ids)
    labels: dict[str, str]  # enum value id -> UI label
    default: Any
    default_from: str
    unit: str | None
    min: int | None
    max: int | None
    per_phase: bool
    ocpp_key: str | None
    affects: str
    manual: str
    removed_in_release: dict[str, str]
    where: Where


@dataclass(frozen=True)
class Variable:
    name: str
    type: Type
    initial: Expr  # a literal, or an expression over parameters
    doc: str
    ref: Ref
    where: Where
    # reset to `initial` after every step's notifications: carries what a rule did to them
    transient: bool = False


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    explore: tuple[Any, ...]  # representative values for exhaustive exploration
    render: str | None = None  # a parameter choosing how the value is written (§5.3)


@dataclass(frozen=True)
class EventDef:
    name: str
    fields: tuple[Field, ...]
    doc: str
    ref: Ref
    where: Where

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True)
class Emit:
    """One output of a rule: an OCPP message (call or result) or a one-shot indication."""

    message: str | None
    kind: str  # call | result
    fields: tuple[tuple[str, Expr], ...]
    indication: str | None
    where: Where


@dataclass(frozen=True)
class Rule:
    id: str
    sources: tuple[str, ...]  # values of the control variable the rule applies in
    events: tuple[str, ...]
    when: Expr
    to: str | None
    do: tuple[tuple[str, Expr], ...]
    emit: tuple[Emit, ...]
    ignore: bool
    renotify: bool
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Case:
    when: Expr
    value: Expr
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Observation:
    name: str
    type: Type | None  # None for table-computed kinds (pwm_duty)
    kind: str  # expr | cases | pwm_duty
    expr: Expr | None
    cases: tuple[Case, ...]
    args: tuple[str, ...]
    keep: bool
    initial: Expr | None
    doc: str
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Observed:
    """One key of what a conformance vector observes after a step (`observed:`), in order."""

    name: str
    source: str  # observation | state | messages | indications
    doc: str
    where: Where


@dataclass(frozen=True)
class Notify:
    id: str
    on_change: str | None  # None: considered after every step (its `when` decides)
    when: Expr
    emit: tuple[Emit, ...]
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Filter:
    """Messages a configuration never sends (e.g. Free Charging mode 1 sends no OCPP at all)."""

    id: str
    drop: tuple[str, ...]  # OCPP actions; ("*",) = every message
    when: Expr  # over configuration parameters and constants only
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Definition:
    """A named condition or value over configuration and state, expanded where it is used."""

    name: str
    type: Type
    expr: Expr
    doc: str
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Witness:
    """Events (name, ((field, value), ...)) that bring every state the state invariants and
    `when` allow to a graph invariant's goal, somewhere along them."""

    when: Expr | None
    events: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    doc: str
    where: Where


@dataclass(frozen=True)
class Invariant:
    """A property of every reachable state (`state`: an expression over the state, the
    configuration and the observations), of every step (`step`: an expression over the state
    before and after, the event and the messages sent) or of the state graph (`graph`)."""

    id: str
    kind: str  # state | step | graph
    expr: Expr | None
    check: str | None
    assume: bool  # a state invariant the Z3 proofs may assume (the explorer checks it)
    doc: str
    ref: Ref
    where: Where
    # a graph invariant's witnesses of the way to its goal `expr` (checkers/recovery.py)
    recovery: tuple[Witness, ...] = ()
    # a step invariant's steps: `expr` must hold on every step where `when` does (None: all)
    when: Expr | None = None


@dataclass(frozen=True)
class Machine:
    name: str
    title: str
    file: str
    control: str
    variables: dict[str, Variable]
    events: dict[str, EventDef]
    rules: tuple[Rule, ...]
    observations: tuple[Observation, ...]
    notify: tuple[Notify, ...]
    filters: tuple[Filter, ...] = ()
    definitions: dict[str, "Definition"] = field(default_factory=dict)
    invariants: tuple["Invariant", ...] = ()
    observed: tuple[Observed, ...] = ()  # what the vectors observe after each step, in order

    @property
    def assumptions(self) -> tuple["Invariant", ...]:
        return tuple(i for i in self.invariants if i.assume)

    @property
    def state_fields(self) -> tuple[str, ...]:
        """Variables, then kept observations: the fields of a State."""
        kept = tuple(o.name for o in self.observations if o.keep)
        return tuple(self.variables) + kept

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


@dataclass(frozen=True)
class StatusTable:
    """OCPP 1.6 §4.9: allowed connector status transitions."""

    statuses: tuple[str, ...]
    allowed: dict[str, frozenset[str]]
    source: str
    # (old, new) the table lacks, made through a status it allows: the connector reports that
    # status in between (two StatusNotifications in one step)
    via: dict[tuple[str, str], str] = field(default_factory=dict)

    def permits(self, old: str, new: str) -> bool:
        return old == new or new in self.allowed.get(old, frozenset())

    def permits_via(self, old: str, new: str) -> bool:
        """Allowed directly, or through the status `via` names."""
        return self.permits(old, new) or (old, new) in self.via


@dataclass(frozen=True)
class PilotSegment:
    min_amps: int
    max_amps: int
    per_amp: float
    offset: float


@dataclass(frozen=True)
class PilotTable:
    """IEC 61851-1 duty cycle <-> current."""

    no_pwm_duty: float
    hlc_duty: float
    minimum_current: int
    resolution: float
    segments: tuple[PilotSegment, ...]
    decode: tuple[tuple[float, float, int], ...]


@dataclass(frozen=True)
class Interpretation:
    id: str
    manual: tuple[str, ...]
    issue: str
    decision: str
    ground: str
    where: Where
    # other outcomes that also conform where the manual leaves a choice: a vector step this
    # interpretation decides accepts a divergence as `acceptable`
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Erratum:
    """Where the manual says something that cannot be right as printed, and our reading."""

    id: str
    manual: tuple[str, ...]
    says: str
    problem: str
    reading: str
    where: Where


@dataclass(frozen=True)
class ErrorTimer:
    event: str
    starts_on: str
    seconds: int
    seconds_if_parameter: str | None
    seconds_if_value: int | None


@dataclass(frozen=True)
class ErrorRow:
    """One row of the manual's error table (§9), with its OCPP 1.6 reporting and recovery."""

    id: str
    row: int
    manual_code: str
    ocpp_error_code: str
    vendor_error_code: str | None
    activation: str
    resolution: str
    stops_transaction: bool
    status_while_active: str  # Faulted | unchanged
    notes: str
    corrective_action: str
    recovery_kind: str
    recovery_by: tuple[str, ...]
    timers: tuple[ErrorTimer, ...]
    needs_vehicle: bool
    keeps_lock: bool
    ref: Ref
    where: Where


@dataclass(frozen=True)
class PolicyRow:
    key: str
    values: dict[str, str]  # column -> value
    source: str
    ref: Ref
    where: Where


@dataclass(frozen=True)
class Policy:
    """A table with one row per value of an enum parameter (e.g. the Free Charging Modes)."""

    name: str
    title: str
    key: str  # the parameter
    columns: dict[str, tuple[str, ...]]
    docs: dict[str, str]
    rows: dict[str, PolicyRow]
    file: str
    where: Where


@dataclass(frozen=True)
class LintCheck:
    """A configuration the manual warns against: `when` holds for the bad setup."""

    id: str
    when: Expr
    severity: str  # error | warning
    params: tuple[str, ...]
    message: str
    ref: Ref
    where: Where
    entries: str | None = None  # a list parameter whose entries `bad_entry` checks one by one
    bad_entry: str | None = None  # a predicate of chargespec.rfid.ENTRY_CHECKS


@dataclass(frozen=True)
class DlmInvariant:
    """A property of every allocation (tick), of a run (ticks) or of a site (config)."""

    id: str
    scope: str  # tick | ticks | config
    statement: str
    ref: Ref
    where: Where


@dataclass(frozen=True)
class DlmSpec:
    """Dynamic load management as data (spec/dlm.yaml)."""

    site_parameters: tuple[str, ...]
    connector_parameters: tuple[str, ...]
    station_parameters: tuple[str, ...]
    rotations: dict[str, tuple[int, int, int]]  # rotation -> grid phase (0..2) of L1, L2, L3
    phase_use: dict[str, tuple[int, ...]]  # phases_connected -> vehicle phase counts possible
    imbalance_limit: int
    invariants: dict[str, DlmInvariant]
    file: str


@dataclass(frozen=True)
class Spec:
    directory: Path
    version: str
    manual_sections: dict[str, str]
    interpretations: dict[str, Interpretation]
    parameters: dict[str, Parameter]
    machines: dict[str, Machine]
    status_table: StatusTable
    pilot: PilotTable
    errata: dict[str, Erratum] = field(default_factory=dict)
    errors: dict[str, ErrorRow] = field(default_factory=dict)
    recovery_events: dict[str, str] = field(default_factory=dict)
    # named constants machine expressions read (sets and tables derived from the error table)
    constants: dict[str, tuple[Type, Any]] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    lint: dict[str, LintCheck] = field(default_factory=dict)
    files: tuple[str, ...] = field(default=())
    dlm: DlmSpec | None = None
    octt: tuple[Any, ...] = ()  # OcttCase: the OCTT OCPP 1.6 test cases, mirrored or not
    configuration_keys: Any = None  # configkeys.KeyTable: the OCPP keys GetConfiguration reads

    def machine(self, name: str = "session") -> Machine:
        return self.machines[name]
