"""The `chargespec` command line.

Exit status, for every command: 0 success, 1 a violation was found (the spec is not a
deterministic, complete machine somewhere, a check failed), 2 bad input or usage (a malformed
spec, configuration or scenario: the message names file and line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from . import ocppj as _ocppj  # noqa: F401 - registers the `ocppj` transport with conform
from .errors import ChargespecError, InputError, ModelError, SpecError, Where
from .inputs import coerce_parameter, load_config, load_scenario
from .loader import default_spec_dir, load_spec
from .outfiles import write_file


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # whatever an input holds, printing never fails
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (SpecError, InputError) as exc:
        print(f"chargespec: error: {exc}", file=sys.stderr)
        return 2
    except RecursionError:
        print("chargespec: error: an input is nested too deep", file=sys.stderr)
        return 2
    except ModelError as exc:
        print(f"chargespec: violation: {exc}", file=sys.stderr)
        return 1
    except ChargespecError as exc:  # pragma: no cover - every subclass is handled above
        print(f"chargespec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        if os.environ.get("CHARGESPEC_DEBUG"):
            raise
        print(f"chargespec: internal error: {type(exc).__name__}: {str(exc)[:300]} (a bug; "
              f"CHARGESPEC_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2


def seconds(text: str) -> float:
    """An argparse type: a time limit, finite, above 0 and at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (0 < value <= 3600):  # also false for NaN
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds above 0 and at most 3600")
    return value


def line_bytes(text: str) -> int:
    """An argparse type: a line length in bytes, 1 KiB to 1 GiB."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes") from None
    if not (1024 <= value <= 1 << 30):
        raise argparse.ArgumentTypeError(f"{text!r}: give 1024 to {1 << 30} bytes")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chargespec",
        description="Executable, model-checked specification of the Powerstation TWO charger.")
    p.add_argument("--version", action="version", version=f"chargespec {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    spec = sub.add_parser("spec", help="work with the specification itself")
    spec_sub = spec.add_subparsers(metavar="ACTION")
    val = spec_sub.add_parser("validate", help="validate a spec directory (default: embedded)")
    val.add_argument("directory", nargs="?", type=Path)
    val.set_defaults(func=cmd_spec_validate)
    keys = spec_sub.add_parser("keys", help="the OCPP configuration keys the charge point "
                               "answers: access, values, the setting each reads")
    keys.add_argument("directory", nargs="?", type=Path)
    keys.add_argument("--json", action="store_true", help="one JSON object per key")
    keys.set_defaults(func=cmd_spec_keys)

    sim = sub.add_parser("simulate", help="run a scenario and print every step's observations")
    sim.add_argument("scenario", type=Path, help="scenario YAML (a list of events)")
    sim.add_argument("--config", type=Path, help="configuration YAML (parameter: value)")
    sim.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                     help="override one parameter (repeatable)")
    sim.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sim.add_argument("--svg", type=Path, metavar="FILE",
                     help="also write the run as a message sequence chart (SVG)")
    sim.add_argument("--mermaid", type=Path, metavar="FILE",
                     help="also write the run as a Mermaid sequenceDiagram")
    sim.set_defaults(func=cmd_simulate)

    lnt = sub.add_parser("lint", help="check a configuration against the manual's warnings")
    lnt.add_argument("config", type=Path, help="configuration YAML (parameter: value)")
    lnt.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    lnt.set_defaults(func=cmd_lint)

    dlm = sub.add_parser("dlm", help="dynamic load management (§7): verify a site, simulate ticks")
    dlm_sub = dlm.add_subparsers(metavar="ACTION")
    ver = dlm_sub.add_parser("verify", help="prove a site's safety invariants with Z3 "
                                            "(exit 0 proved, 1 counterexample, 2 bad input)")
    ver.add_argument("site", type=Path, help="site YAML")
    ver.add_argument("--timeout", type=int, default=60, help="seconds per Z3 query (default 60)")
    ver.set_defaults(func=cmd_dlm_verify)
    dsim = dlm_sub.add_parser("simulate", help="allocate tick by tick and check every invariant")
    dsim.add_argument("site", type=Path, help="site YAML")
    dsim.add_argument("scenario", type=Path, help="DLM scenario YAML (ticks)")
    dsim.set_defaults(func=cmd_dlm_simulate)

    chk = sub.add_parser("check", help="validate the spec, prove determinism and completeness "
                                       "(Z3), explore every invariant (exit 0 ok, 1 violation)")
    chk.add_argument("--profile", choices=["ci", "full"], default="ci")
    chk.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    chk.add_argument("--workers", type=int, help="processes (default: one per core)")
    chk.set_defaults(func=cmd_check)

    mut = sub.add_parser("mutate", help="mutation analysis: which spec mutants the vectors "
                                        "kill (exit 1 when one that is not equivalent survives)")
    mut.add_argument("vectors", type=Path, nargs="*",
                     help="vector files (default: the committed vectors/*.json)")
    mut.add_argument("--only", metavar="PREFIX", action="append", default=[],
                     help="only the mutants whose id starts with PREFIX (repeatable)")
    mut.add_argument("--no-search", action="store_true",
                     help="report survivors without looking for a distinguishing test")
    mut.add_argument("--json", type=Path, metavar="FILE", help="write every verdict as JSON")
    mut.add_argument("--list", choices=["survivors", "equivalent", "single", "all"],
                     default="survivors", help="which mutants to list (default: survivors)")
    mut.add_argument("--workers", type=int, help="processes (default: one per core)")
    mut.set_defaults(func=cmd_mutate)

    vec = sub.add_parser("vectors", help="generate the conformance vectors (--check: fail if "
                                         "the files in DIR drift from the spec)")
    vec.add_argument("--out", type=Path, default=Path("vectors"), help="directory (vectors/)")
    vec.add_argument("--check", action="store_true", help="compare instead of writing")
    vec.add_argument("--full", action="store_true",
                     help="regenerate mutation.json even when its recorded inputs are "
                          "unchanged (the mutation analysis: minutes)")
    vec.add_argument("--quick", action="store_true",
                     help="with --check: when the inputs recorded at generation "
                          "(.generated-from: spec, source, library versions) are today's and "
                          "every file has its recorded bytes, say so without regenerating; "
                          "else check in full")
    vec.set_defaults(func=cmd_vectors)

    con = sub.add_parser("conform", help="run vectors against an implementation "
                                         "(exit 0 all pass, 1 a failure, 2 bad input)")
    con.add_argument("vectors", type=Path, nargs="+", help="vector files")
    con.add_argument("--adapter", required=True,
                     help="'reference', 'module:Class' (in-process) or 'stdio:COMMAND'")
    con.add_argument("--timeout", type=seconds, default=5.0, help="seconds per step (stdio)")
    con.add_argument("--max-line", type=line_bytes, default=8 << 20, metavar="BYTES",
                     help="longest answer line an adapter may send (stdio; default 8 MiB)")
    con.add_argument("--junit", type=Path, help="write JUnit XML here")
    con.add_argument("--json", type=Path, dest="json_out", help="write JSON results here")
    con.add_argument("--report", type=Path, metavar="DIR",
                     help="write DIR/index.html: the run as HTML, each failure's path drawn")
    con.set_defaults(func=cmd_conform)

    fz = sub.add_parser("fuzz", help="model-based fuzzing: Hypothesis draws configurations and "
                                     "event sequences, compares the implementation with the "
                                     "reference, shrinks a divergence and saves it as a vector "
                                     "(exit 0 none found, 1 found, 2 bad input)")
    fz.add_argument("--adapter", required=True,
                    help="'reference', 'module:Class' (in-process) or 'stdio:COMMAND'")
    fz.add_argument("--examples", type=int, default=200, help="examples to draw (200)")
    fz.add_argument("--seed", type=int, default=0, help="random seed (0): same seed, same run")
    fz.add_argument("--max-steps", type=int, default=25, help="events per example (25)")
    fz.add_argument("--timeout", type=seconds, default=5.0, help="seconds per step (stdio)")
    fz.add_argument("--max-line", type=line_bytes, default=8 << 20, metavar="BYTES",
                    help="longest answer line an adapter may send (stdio; default 8 MiB)")
    fz.add_argument("--out", type=Path, default=Path("fuzz-divergence.json"),
                    help="where to save the shrunk divergence as a vector file")
    fz.set_defaults(func=cmd_fuzz)

    dia = sub.add_parser("diagrams", help="graphviz DOT and SVG: the session machine, its "
                                          "projection per configuration class, the OCPP status "
                                          "transitions, the DLM sites' phases")
    dia.add_argument("--out", type=Path, default=None,
                     help="directory (reports/diagrams); with --sequence: the file (default: "
                          "standard output)")
    dia.add_argument("--sequence", metavar="VECTORS.json#TCID|SCENARIO.yaml",
                     help="a message sequence chart of one test of a vector file, or of a "
                          "scenario run by the model (--config/--set apply to a scenario)")
    dia.add_argument("--format", choices=["svg", "mermaid"], default="svg",
                     help="svg (graphviz DOT and SVG for the pictures; our own SVG for a "
                          "chart) or mermaid (stateDiagram-v2 / sequenceDiagram, for Markdown)")
    dia.add_argument("--config", type=Path, help="with a scenario: configuration YAML")
    dia.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                     help="with a scenario: one parameter (repeatable)")
    dia.set_defaults(func=cmd_diagrams)

    vcp = sub.add_parser("virtual-cp", help="the reference model as an OCPP 1.6J charge point "
                                            "(a virtual Powerstation TWO) connecting to a "
                                            "central system; physical events as JSON lines "
                                            "on stdin")
    vcp.add_argument("--csms", required=True, metavar="URL",
                     help="the central system's WebSocket URL (ws://HOST:PORT/PATH); the charge "
                          "point's id is appended as OCPP-J says")
    vcp.add_argument("--id", default="CP1", help="charge point id (CP1)")
    vcp.add_argument("--connectors", type=int, choices=[1, 2], default=2,
                     help="connectors (2: the manual's dual station)")
    vcp.add_argument("--config", type=Path, help="configuration YAML (parameter: value)")
    vcp.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    vcp.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    vcp.add_argument("--log", type=Path, help="append every frame here as JSON lines")
    vcp.add_argument("--time-scale", type=float, default=1.0,
                     help="multiply the Heartbeat interval by this (tests run it fast)")
    vcp.add_argument("--connect-timeout", type=seconds, default=10.0,
                     help="seconds to reach the central system (10)")
    vcp.add_argument("--line-amps", type=int, metavar="AMPS",
                     help="the station's single power line (§7.3), amperes per phase: the DLM "
                          "allocator splits it between the connectors charging (default: no "
                          "shared line)")
    vcp.add_argument("--no-control", action="store_true",
                     help="no control channel: serve until the connection closes")
    vcp.set_defaults(func=cmd_virtual_cp)

    trc = sub.add_parser("trace", help="judge an OCPP-J log against the spec: the first frame "
                         "no behaviour explains, or the inferred run")
    trc.add_argument("log", type=Path, help="the log: JSON lines (virtual-cp --log), the ocpp "
                     "package's logger lines, or timestamp / direction / frame lines")
    trc.add_argument("--format", choices=("jsonl", "text"), help="the log's form (sniffed)")
    trc.add_argument("--config", type=Path, help="the charger's configuration YAML")
    trc.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                     help="one parameter of the charger's configuration (repeatable)")
    trc.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    trc.add_argument("--strict", action="store_true",
                     help="a line that cannot be read is fatal (exit 2), not skipped")
    trc.add_argument("--depth", type=int, default=3,
                     help="physical events the search may infer between two frames (3)")
    trc.add_argument("--scenario", type=Path, help="write the inferred run of the first "
                     "connector as a scenario `chargespec simulate` replays")
    trc.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    trc.add_argument("--lag", type=float, metavar="SECONDS",
                     help="how long a CALL the model queued may wait before it shows in the "
                     "log (default: no bound; a charger offline for hours sends its queue late)")
    trc.add_argument("--report", type=Path, metavar="DIR",
                     help="write DIR/index.html: the log as a sequence chart, inferred events "
                     "dashed, the first unexplained frame marked")
    trc.add_argument("--infer-config", action="store_true",
                     help="which configurations explain the log: the parameters it determines "
                     "(and the frame that did) and those it leaves open")
    trc.set_defaults(func=cmd_trace)

    rep = sub.add_parser("report", help="reports/: index.html (self-contained), summary.json, "
                                        "diagrams; --check: fail if the committed report "
                                        "drifts from the spec")
    rep.add_argument("--out", type=Path, default=Path("reports"), help="directory (reports/)")
    rep.add_argument("--vectors", type=Path, default=Path("vectors"),
                     help="the vectors the report reads (vectors/)")
    rep.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    rep.add_argument("--check", action="store_true", help="compare instead of writing")
    rep.add_argument("--quick", action="store_true",
                     help="with --check: when the inputs recorded at generation "
                          "(.generated-from: spec, source, library versions, dot, the vectors) "
                          "are today's and every file has its recorded bytes, say so without "
                          "regenerating; else check in full")
    rep.add_argument("--workers", type=int, help="processes (default: one per core)")
    rep.set_defaults(func=cmd_report)

    exp = sub.add_parser("export", help="write the machine for another tool")
    exp_sub = exp.add_subparsers(metavar="FORMAT")
    pml = exp_sub.add_parser("promela", help="the session under one configuration, for SPIN")
    pml.add_argument("--config", type=Path, help="configuration YAML (parameter: value)")
    pml.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    pml.add_argument("--spec", type=Path, help="spec directory (default: embedded)")
    pml.add_argument("--pairwise", type=int, metavar="N", help="the first N pairwise "
                     "configurations instead, chosen nondeterministically at init")
    pml.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    pml.set_defaults(func=cmd_export_promela)

    demo = sub.add_parser("demo", help="the four Stop Transaction Modes on one scenario")
    demo.set_defaults(func=cmd_demo)
    return p


def cmd_conform(args: argparse.Namespace) -> int:
    from .conform import (AdapterError, VectorFileError, embedded_spec, check_against_spec, junit,
                          load_vectors, make_adapter, results_json, run_file, summary,
                          write_atomic)

    # `vectors/*.json` also matches the manifest and the coverage report: not vector files
    args.vectors = [p for p in args.vectors
                    if p.name not in ("manifest.json", "coverage-report.json")]
    if not args.vectors:
        raise InputError("no vector files given")
    from .outfiles import check_target
    for target in (args.junit, args.json_out):  # before the run, not after it
        if target is not None:
            check_target(target)
    if args.report is not None:
        check_target(args.report / "index.html", create_parent=True)
    docs = {}
    for path in args.vectors:
        if not path.is_file():
            raise InputError(f"{path}: vector file not found")
        try:
            docs[path] = load_vectors(path)  # every file is checked before any test runs
            check_against_spec(path, docs[path], embedded_spec())
        except VectorFileError as exc:
            raise InputError(str(exc)) from None
    # the files live as long as the run, hundreds of thousands of small objects: out of the
    # collector's sight, its full collections no longer walk them on every test
    import gc
    gc.freeze()
    try:
        adapter = make_adapter(args.adapter, args.timeout, args.max_line)
    except (AdapterError, ImportError, AttributeError, OSError) as exc:
        raise InputError(f"adapter {args.adapter!r}: {exc}") from None
    outcomes = []
    done = [0]

    def progress(o) -> None:
        done[0] += 1
        if done[0] % 100 == 0 or o.status == "failed":
            print(f"  {done[0]} tests, last {o.file}#{o.tc_id}: {o.status}", file=sys.stderr)
    try:
        for path in args.vectors:
            try:
                outcomes += run_file(adapter, path, progress, doc=docs[path])
            except (ValueError, KeyError) as exc:
                raise InputError(f"{path}: not a vector file ({type(exc).__name__}: {exc})") \
                    from None
    finally:
        adapter.close()
    print(f"adapter: {adapter.name}")
    print(summary(outcomes))
    if args.junit:
        write_atomic(args.junit, junit(outcomes))
    if args.json_out:
        write_atomic(args.json_out, results_json(outcomes))
    if args.report:
        from .conform_html import render
        args.report.mkdir(parents=True, exist_ok=True)
        write_atomic(args.report / "index.html", render(
            outcomes, adapter.name, {p.name: d for p, d in docs.items()}))
        print(f"report: {(args.report / 'index.html').resolve().as_uri()}")
    failed = sum(o.status == "failed" for o in outcomes)
    print(f"{len(outcomes)} tests: {len(outcomes) - failed} passed or unsupported, "
          f"{failed} failed")
    return 1 if failed else 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    import time

    from .conform import AdapterError, make_adapter
    from .fuzz import fuzz, save
    from .models.step import Engine

    if args.examples < 1 or args.max_steps < 1:
        raise InputError("--examples and --max-steps must be at least 1")
    if args.examples > 10_000_000 or args.max_steps > 10_000:
        raise InputError("--examples at most 10,000,000 and --max-steps at most 10,000")
    from .outfiles import check_target
    check_target(args.out)  # before the run, not after it
    try:
        adapter = make_adapter(args.adapter, args.timeout, args.max_line)
    except (AdapterError, ImportError, AttributeError, OSError) as exc:
        raise InputError(f"adapter {args.adapter!r}: {exc}") from None
    engine = Engine(load_spec())
    t0 = time.perf_counter()
    try:
        result = fuzz(adapter, args.examples, args.seed, args.max_steps, engine)
    finally:
        adapter.close()
    took = time.perf_counter() - t0
    print(f"adapter: {adapter.name}")
    print(f"{result.examples} examples, {result.steps} steps compared, {took:.1f} s "
          f"(seed {args.seed})")
    d = result.divergence
    if d is None:
        print("no divergence found")
        return 0
    save(engine, d, args.out)
    print(f"DIVERGENCE after {len(d.events)} event(s) under {d.config or 'the defaults'}:")
    print(f"  {' -> '.join(e['name'] for e in d.events)}")
    print(f"  {d.detail}")
    print(f"saved as a vector file: {args.out} (chargespec conform --adapter ... {args.out})")
    return 1


def cmd_mutate(args: argparse.Namespace) -> int:
    """Every spec mutant against the vectors, in-process: the score per area, the survivors."""
    import time

    from .checkers import mutate
    from .checkers.mutants import generate
    from .conform import VectorFileError, write_atomic
    from .models.step import Engine
    from .outfiles import check_target

    if args.json is not None:
        check_target(args.json)  # before the analysis, not after it

    t0 = time.perf_counter()
    engine = Engine(load_spec())
    paths = args.vectors or sorted(default_vectors_dir().glob("*.json"))
    try:
        suite = mutate.load_suite(engine, [p for p in paths if p.name not in
                                           mutate.SESSION_FILES_SKIP])
    except VectorFileError as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    mutants = [m for m in generate(engine.spec)
               if not args.only or any(m.id.startswith(p) for p in args.only)]
    if not mutants:
        raise InputError(f"no mutant id starts with {' or '.join(args.only)}")
    print(f"{len(mutants)} mutants of the spec against {len(suite.cases)} tests "
          f"({', '.join(suite.files)})", file=sys.stderr)
    # the second tests for mutants one test alone kills are the generator's business: the
    # command lists those mutants (--list single) without searching for them
    verdicts = mutate.analyse(engine, suite, mutants, search=not args.no_search,
                              workers=args.workers, second=False,
                              progress=lambda text: print(text, file=sys.stderr))
    print(mutate.table(verdicts))
    survivors = [v for v in verdicts if v.status in ("distinguished", "undecided")]
    show = {"survivors": survivors,
            "equivalent": [v for v in verdicts if v.status == "equivalent"],
            "single": [v for v in verdicts if v.status == "killed" and len(v.killers) == 1],
            "all": verdicts}[args.list]
    for v in show:
        print(mutate.describe(v))
    if args.json:
        write_atomic(args.json, json.dumps([mutate.verdict_json(v) for v in verdicts],
                                           indent=1, sort_keys=True) + "\n")
    print(f"{len(survivors)} surviving, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 1 if survivors else 0


def default_vectors_dir() -> Path:
    """vectors/ of the working tree, else the copy shipped in the package."""
    here = Path("vectors")
    if here.is_dir():
        return here
    from importlib import resources
    return Path(str(resources.files("chargespec").joinpath("vectors")))


def cmd_vectors(args: argparse.Namespace) -> int:
    from . import fingerprint
    from .loader import default_spec_dir
    from .models.step import Engine
    from .vectors import build, drift, write

    inputs = fingerprint.inputs(default_spec_dir())
    if args.check and args.quick and not args.full:
        why = fingerprint.unchanged(args.out, inputs)
        if why is not None:
            print(f"{args.out}: {why}; 0 drifting")
            return 0
    files = build(Engine(load_spec()), previous=None if args.full else args.out)
    if args.check:
        bad = drift(args.out, files)
        for line in bad:
            print(line, file=sys.stderr)
        print(f"{len(files)} files, {len(bad)} drifting")
        return 1 if bad else 0
    write(args.out, files)
    fingerprint.write_record(args.out, inputs, files)
    tests = sum(f["numberOfTests"] for f in json.loads(files["manifest.json"])["files"].values())
    print(f"wrote {len(files)} files, {tests} tests, to {args.out}")
    return 0


def cmd_diagrams(args: argparse.Namespace) -> int:
    from .diagrams import build, mermaid_files
    from .models.step import Engine
    from .report import example_sites
    from .vectors import write

    spec = load_spec()
    engine = Engine(spec)
    if args.sequence is not None:
        return _sequence(engine, args)
    if args.config or args.set:
        raise InputError("--config and --set apply to a scenario's chart (--sequence "
                         "SCENARIO.yaml); the diagrams show every configuration class")
    out = args.out if args.out is not None else Path("reports/diagrams")
    if args.format == "mermaid":
        files = mermaid_files(engine)
        write(out, {k: v.encode() for k, v in files.items()})
        print(f"wrote {len(files)} Mermaid files to {out}")
        return 0
    files = build(engine, example_sites(spec))
    write(out, {k: v.encode() for k, v in files.items()})
    pictures = sum(k.endswith(".svg") for k in files)
    print(f"wrote {len(files)} files ({pictures} diagrams: DOT and SVG; the readable views also "
          f"as Mermaid and their rules as JSON) to {out}")
    return 0


def _sequence(engine: Any, args: argparse.Namespace) -> int:
    """`diagrams --sequence`: one test of a vector file (FILE#TCID) or a scenario's run."""
    from . import sequence
    ref = str(args.sequence)
    if "#" in ref and ref.rsplit("#", 1)[0].endswith(".json"):
        from .conform import load_vectors
        if args.config or args.set:
            raise InputError(f"{ref}: a test runs under its group's configuration; --config "
                             f"and --set apply to a scenario")
        file, _, tc = ref.rpartition("#")
        doc = load_vectors(Path(file))
        found = [(g, t) for g in doc.get("testGroups", ()) for t in g.get("tests", ())
                 if str(t.get("tcId")) == tc]
        if not found:
            raise InputError(f"{file}: no test with tcId {tc!r} "
                             f"({doc.get('numberOfTests', 0)} tests)")
        chart = sequence.from_test(engine, *found[0],
                                   title=f"{Path(file).name}#{tc}: {found[0][1].get('comment', '')}")
    else:
        scenario = load_scenario(engine.spec, Path(ref))
        values = dict(scenario.config)
        if args.config:
            values.update(load_config(engine.spec, args.config))
        values.update(_parse_set(engine.spec, args.set))
        chart = _scenario_chart(engine, scenario, values)
    text = sequence.svg(chart) if args.format == "svg" else sequence.mermaid(chart)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_file(args.out, text)
        print(f"wrote {args.out}")
    return 0


def _scenario_chart(engine: Any, scenario: Any, values: dict[str, Any]) -> Any:
    from . import sequence
    config = engine.config(values)
    events = [engine.event(s.event, **s.fields) for s in scenario.steps]
    trace = engine.run(config, events)
    setting = ", ".join(f"{k}={v}" for k, v in values.items())
    title = scenario.title + (f" ({setting})" if setting else "")
    return sequence.from_run(engine, title, values, trace, engine.initial(config))


def cmd_report(args: argparse.Namespace) -> int:
    from . import fingerprint
    from .checkers.check import progress_to_stderr
    from .loader import default_spec_dir
    from .models.step import Engine
    from .report import TIMING_FILE, build, collect
    from .vectors import drift, write

    inputs = fingerprint.inputs(args.spec or default_spec_dir(), [args.vectors], ["dot"])
    if args.check and args.quick:
        why = fingerprint.unchanged(args.out, inputs)
        if why is not None:
            print(f"{args.out}: {why}; 0 drifting")
            return 0
    engine = Engine(load_spec(args.spec))
    collected = collect(engine, args.vectors, progress=progress_to_stderr, workers=args.workers)
    files = build(collected)
    kept = {k: v for k, v in files.items() if k != TIMING_FILE}
    if args.check:
        bad = drift(args.out, kept, command="chargespec report")
        for line in bad:
            print(line, file=sys.stderr)
        print(f"{len(files) - 1} files (all but {TIMING_FILE}), {len(bad)} drifting")
        return 1 if bad else 0
    write(args.out, files)
    fingerprint.write_record(args.out, inputs, kept)
    index = (args.out / "index.html").resolve()
    print(f"wrote {len(files)} files to {args.out}; open {index.as_uri()}")
    return 0


def cmd_virtual_cp(args: argparse.Namespace) -> int:
    import asyncio
    from urllib.parse import urlsplit

    from .models.step import Engine
    from .virtual_cp import run

    parts = urlsplit(args.csms)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InputError(f"--csms {args.csms!r}: a ws:// or wss:// URL with a host")
    if not args.id or "/" in args.id or len(args.id) > 48:
        raise InputError(f"--id {args.id!r}: 1-48 characters, no '/'")
    if args.line_amps is not None and not 6 <= args.line_amps <= 1000:
        raise InputError(f"--line-amps {args.line_amps}: 6 to 1000 amperes")
    if not 0 < args.time_scale <= 1000:
        raise InputError(f"--time-scale {args.time_scale}: above 0, at most 1000")
    if args.log is not None:
        from .outfiles import check_target
        check_target(args.log)
    spec = load_spec(args.spec)
    values: dict = {}
    if args.config:
        values.update(load_config(spec, args.config))
    values.update(_parse_set(spec, args.set))
    engine = Engine(spec)
    return asyncio.run(run(args.csms, args.id, engine, engine.config(values), args.connectors,
                           args.log, args.time_scale, not args.no_control,
                           args.connect_timeout, args.line_amps))


def cmd_export_promela(args: argparse.Namespace) -> int:
    from .checkers.explore import pairwise_configurations, session_events
    from .checkers.promela import export_all
    from .models.step import Engine
    from .outfiles import check_target

    if args.output is not None:
        check_target(args.output)
    spec = load_spec(args.spec)
    engine = Engine(spec)
    if args.pairwise:
        configs = pairwise_configurations(engine)[:args.pairwise]
    else:
        values = load_config(spec, args.config) if args.config else {}
        values.update(_parse_set(spec, args.set))
        configs = [engine.config(values)]
    text = export_all(engine, configs, session_events(engine))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    from .outfiles import write_file
    write_file(args.output, text)  # never a half-written model
    print(f"wrote {args.output} ({text.count(chr(10))} lines)", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .checkers.check import progress_to_stderr, run, summary

    spec = load_spec(args.spec)
    progress_to_stderr(f"spec valid: {len(spec.files)} documents, "
                       f"{sum(len(m.rules) for m in spec.machines.values())} rules")
    result = run(spec, args.profile, workers=args.workers, progress=progress_to_stderr)
    print(summary(result))
    return 0 if result.ok else 1


def cmd_dlm_verify(args: argparse.Namespace) -> int:
    from .dlm.prove import verify
    from .dlm.site import load_site

    site = load_site(load_spec(), args.site)
    results = verify(site, timeout_ms=args.timeout * 1000)
    print(f"site {site.name!r} ({args.site}): {len(site.connectors)} connectors, "
          f"{len(site.stations)} stations")
    for r in results:
        print(f"  {r.status:<14} {r.invariant:<30} {r.seconds:6.2f} s  {r.detail}")
    bad = [r for r in results if not r.ok]
    print(f"{len(results) - len(bad)} of {len(results)} invariants hold for every input")
    if any(r.status == "Unknown" for r in bad):
        return 2 if all(r.status == "Unknown" for r in bad) else 1
    return 1 if bad else 0


def cmd_dlm_simulate(args: argparse.Namespace) -> int:
    from .dlm.simulate import load_scenario, run, table
    from .dlm.site import load_site

    site = load_site(load_spec(), args.site)
    title, ticks = load_scenario(site, args.scenario)
    steps = run(site, ticks, str(args.scenario))
    print(f"scenario: {title}  ({args.scenario})\nsite:     {site.name}  ({args.site})\n")
    print(table(site, steps))
    broken = sum(len(s.violations) for s in steps)
    print(f"{len(steps)} ticks, {broken} invariant violation(s)")
    return 1 if broken else 0


def cmd_lint(args: argparse.Namespace) -> int:
    from chargespec.lint import lint
    from chargespec.models.step import Engine

    engine = Engine(load_spec(args.spec))
    values = load_config(engine.spec, args.config)
    findings = lint(engine.spec, engine.config(values))
    for f in findings:
        print(f.render())
    errors = sum(1 for f in findings if f.check.severity == "error")
    print(f"{args.config}: {errors} error(s), {len(findings) - errors} warning(s) "
          f"({len(engine.spec.lint)} checks)")
    return 1 if errors else 0


def cmd_spec_validate(args: argparse.Namespace) -> int:
    spec = load_spec(args.directory)
    from chargespec.models.step import Engine

    engine = Engine(spec)  # compiles every expression: a second line of checks
    for m in spec.machines.values():
        print(f"machine {m.name} ({m.file}): {len(m.variables)} variables, {len(m.events)} "
              f"events, {len(m.rules)} rules, {len(m.observations)} observations")
    print(f"{len(spec.parameters)} parameters, {len(spec.interpretations)} interpretations, "
          f"{len(spec.manual_sections)} manual sections")
    del engine
    print(f"spec {spec.directory}: valid")
    return 0


def cmd_spec_keys(args: argparse.Namespace) -> int:
    """The key table of spec/configuration_keys.yaml, as a text table or JSON lines."""
    from . import configkeys
    from .models.types import thaw
    spec = load_spec(args.directory)
    table = spec.configuration_keys
    if table is None:
        raise InputError(f"{spec.directory}: the spec has no configuration_keys document")
    defaults = type("Defaults", (), {p: thaw(v.default) for p, v in spec.parameters.items()})
    rows = []
    for k in table.keys:
        if k.format == "int":
            values = f"{k.lo}..{k.hi}"
        elif k.format in ("csl", "rotation"):
            values = ("members of " if k.format == "csl" else "N.") + "|".join(k.members[:4]) \
                + ("|..." if len(k.members) > 4 else "")
        else:
            values = "true|false" if k.format == "bool" else (
                "derived" if k.derived_from else "fixed")
        source = k.parameter or (f"derived from {k.derived_from}" if k.derived_from else "-")
        rows.append({"key": k.name, "access": "R" if k.readonly else "RW", "profile": k.profile,
                     "values": values, "default": configkeys.render(k, defaults),
                     "setting": source, "ocpp": k.ocpp})
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        print(f"{r['key']:<{width}}  {r['access']:<2}  {r['default']:<30.30}  {r['values']:<28.28}"
              f"  {r['setting']}")
    return 0


def _parse_set(spec: Any, items: list[str]) -> dict[str, Any]:
    from .yamlread import parse_yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected PARAM=VALUE")
        key, raw = item.split("=", 1)
        value = parse_yaml(raw, f"--set {item[:80]}") if raw.strip() else raw
        if isinstance(value, bool) or value is None:
            value = raw  # On/Off/yes/no stay strings; coerce_parameter reads On/Off
        out[key] = coerce_parameter(spec, key, value, Where(f"--set {item}"))
    return out


def cmd_trace(args: argparse.Namespace) -> int:
    """Exit 0 when every connector's frames are explained, 1 when one is not, 2 bad input."""
    from chargespec.models.step import Engine
    from .outfiles import check_target, write_file
    from .trace.check import WARM_DEPTH, check
    from .trace.readers import read_log

    if not 0 <= args.depth <= 6:
        raise InputError("--depth: 0 to 6 hidden events between two frames")
    if args.scenario is not None:
        check_target(args.scenario)
    spec = load_spec(args.spec)
    engine = Engine(spec)
    values = load_config(spec, args.config) if args.config else {}
    values.update(_parse_set(spec, args.set))
    config = engine.config(values)
    try:
        log = read_log(args.log, args.format)
    except FileNotFoundError:
        raise InputError(f"{args.log}: log not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{args.log}: {exc}") from None
    for problem in log.problems[:50]:
        print(f"chargespec trace: {problem}", file=sys.stderr)
    if len(log.problems) > 50:
        print(f"chargespec trace: ... {len(log.problems) - 50} more lines not read",
              file=sys.stderr)
    if log.problems and args.strict:
        return 2
    if args.infer_config:
        return _print_inference(args, engine, log, values)
    if args.lag is not None and not 0 <= args.lag <= 10**7:
        raise InputError("--lag: 0 to 10,000,000 seconds")
    verdicts, skipped, notes = check(engine, config, log, args.depth, args.lag,
                                     resync=True)
    if args.scenario is not None and verdicts:
        write_file(args.scenario, _scenario_yaml(args.log, verdicts[0]))
    if args.report is not None:
        from .outfiles import write_tree
        from .trace.report import page
        write_tree(args.report, {"index.html": page(log, verdicts).encode()})
    ok = all(v.explained for v in verdicts)
    if args.json:
        print(json.dumps({
            "log": str(args.log), "format": log.format, "frames": len(log.frames),
            "problems": [{"line": p.line, "message": p.message} for p in log.problems],
            "skipped": skipped, "notes": notes, "config": values, "explained": ok,
            "connectors": [{
                "connector": v.connector, "explained": v.explained, "frames": v.frames,
                "events": [e.name if not e.as_dict() else {e.name: _plain(e.as_dict())}
                           for _, e in v.events],
                "bounded": v.bounded, "startsMidRun": v.warm,
                **({} if v.frame is None else {
                    "line": v.frame.line, "time": v.frame.time, "why": v.why,
                    "allowed": v.allowed,
                    "laterDeviations": [{"line": n, "why": w} for n, w in v.later],
                    "resumedAt": v.resumed, "explainedToTheEnd": v.tail_explained})}
                for v in verdicts]}, indent=2, default=str))
        return 0 if ok else 1
    shown = ", ".join(f"{k} {n}" for k, n in sorted(skipped.items()))
    print(f"log: {args.log} ({log.format}, {len(log.frames)} frames"
          + (f"; not modelled, skipped: {shown}" if shown else "")
          + (f"; {len(log.problems)} lines not read" if log.problems else "") + ")")
    for note in notes[:10]:
        print(f"note: {note}")
    for v in verdicts:
        run = ", ".join(label for label, _ in v.events)
        if v.warm:
            print(f"connector {v.connector}: the log begins mid-run (no BootNotification first): "
                  f"the state before its first frame is inferred from up to "
                  f"{WARM_DEPTH} events whose messages came before the log")
        if v.explained:
            print(f"connector {v.connector}: explained ({v.frames} frames)"
                  + (" [search bounded]" if v.bounded else ""))
            print(f"  run: {run}")
            continue
        assert v.frame is not None
        print(f"connector {v.connector}: NOT explained at {args.log}:{v.frame.line}"
              + (f" ({v.frame.time})" if v.frame.time else ""))
        print(f"  {v.why}")
        print(f"  explained up to it by: {run or '(nothing)'}")
        if v.allowed:
            print("  the spec allowed there:")
            for a in v.allowed:
                print(f"    {a}")
        if v.resumed:
            print(f"  checked on from each point where connector {v.connector} is idle again "
                  f"(lines {', '.join(map(str, v.resumed[:10]))}"
                  + (" ..." if len(v.resumed) > 10 else "") + "):")
            for line, why in v.later[:10]:
                print(f"    {args.log}:{line}: {why}")
            if len(v.later) > 10:
                print(f"    ... {len(v.later) - 10} more")
            print("    explained to the end of the log" if v.tail_explained else
                  "    (not every stretch could be resumed: no idle point after the last)")
    return 0 if ok else 1


def _print_inference(args: argparse.Namespace, engine: Any, log: Any,
                     given: dict[str, Any]) -> int:
    """`trace --infer-config`: exit 0 when a configuration explains the log, 1 when none of
    those searched does."""
    from .trace.infer import infer
    res = infer(engine, log, given, args.depth)
    if args.report is not None:
        from .outfiles import write_tree
        from .trace.check import check
        from .trace.report import page
        shown = res.config if res.config is not None else given
        verdicts, _, _ = check(engine, engine.config({**given, **res.pinned, **shown}), log,
                               args.depth, args.lag)
        write_tree(args.report, {"index.html": page(log, verdicts, res).encode()})
    if args.json:
        print(json.dumps({"log": str(args.log), "explained": res.config is not None,
                          "pinned": res.pinned, "changed": res.changed,
                          "determined": {p: {"value": v, "line": n}
                                         for p, (v, n) in res.determined.items()},
                          "open": res.open, "checks": res.checks, "furthest": res.furthest},
                         indent=2, default=str))
        return 0 if res.config is not None else 1
    print(f"log: {args.log} ({len(log.frames)} frames; {res.checks} configurations checked)")
    if res.pinned:
        print("given or shown by the log's GetConfiguration: "
              + ", ".join(f"{p}={v}" for p, v in sorted(res.pinned.items())))
    if res.config is None:
        print(f"no configuration searched explains the log (the furthest reached line "
              f"{res.furthest}); `chargespec trace` without --infer-config shows where the "
              f"factory defaults fail")
        return 1
    print("explained under " + ("the starting configuration with " + ", ".join(
        f"{p}={v}" for p, v in sorted(res.changed.items())) if res.changed else
        "the starting configuration (factory defaults, what is given, what the log shows)"))
    print("determined by the log:")
    for p, (v, line) in sorted(res.determined.items()):
        print(f"  {p} = {v}  (every other value fails by line {line})")
    print("left open:")
    for p, vs in sorted(res.open.items()):
        print(f"  {p}: any of {', '.join(map(str, vs))}")
    return 0


def _plain(fields: Any) -> dict[str, Any]:
    from chargespec.models.types import thaw
    return {k: thaw(v) for k, v in dict(fields).items()}


def _scenario_yaml(log: Path, verdict: Any) -> str:
    import yaml
    steps = [e.name if not e.as_dict() else {e.name: _plain(e.as_dict())} for _, e in verdict.events]
    head = (f"# inferred by chargespec trace from {log} (connector {verdict.connector}"
            + ("" if verdict.explained else f", up to line {verdict.frame.line}") + ")\n")
    return head + yaml.safe_dump({"title": f"the run behind {log.name}", "steps": steps},
                                 sort_keys=False, allow_unicode=True)


def cmd_simulate(args: argparse.Namespace) -> int:
    from chargespec.models.step import Engine

    spec = load_spec(args.spec)
    engine = Engine(spec)
    scenario = load_scenario(spec, args.scenario)
    values = dict(scenario.config)
    if args.config:
        values.update(load_config(spec, args.config))
    values.update(_parse_set(spec, args.set))
    config = engine.config(values)
    events = [engine.event(s.event, **s.fields) for s in scenario.steps]
    trace = engine.run(config, events)
    from .tracetable import render, to_json

    if args.svg is not None or args.mermaid is not None:
        from . import sequence
        chart = _scenario_chart(engine, scenario, values)
        if args.svg is not None:
            write_file(args.svg, sequence.svg(chart))
        if args.mermaid is not None:
            write_file(args.mermaid, sequence.mermaid(chart))
    if args.json:
        print(json.dumps({"scenario": scenario.title, "config": values,
                          "steps": to_json(trace)}, indent=2, sort_keys=True))
        return 0
    init = engine.initial(config)
    print(f"scenario: {scenario.title}  ({scenario.file})")
    print(f"config:   {engine.compiled.describe_config(config)}")
    print()
    print(render(engine.machine, trace, engine.observe(config, init), init))
    return 0


DEMO_SCENARIOS = ("stop_modes.yaml", "state_d.yaml")


def cmd_demo(args: argparse.Namespace) -> int:
    """The same scenarios under each Stop Transaction Mode, then how the modes differ."""
    from chargespec.models.step import Engine
    from .tracetable import render

    spec = load_spec()
    engine = Engine(spec)
    modes = spec.parameters["stop_transaction_mode"]
    summaries = []
    for name in DEMO_SCENARIOS:
        scenario = load_scenario(spec, default_spec_dir() / "examples" / name)
        events = [engine.event(s.event, **s.fields) for s in scenario.steps]
        rows = []
        for mode in modes.values:
            config = engine.config({**scenario.config, "stop_transaction_mode": mode})
            trace = engine.run(config, events)
            init = engine.initial(config)
            print(f"=== {scenario.title} -- Stop Transaction Mode: {modes.labels[mode]} (§5.1)")
            print(render(engine.machine, trace, engine.observe(config, init), init))
            print()
            ended = next(((i, ev, m) for i, (ev, _, out) in enumerate(trace, 1)
                          for m in out.messages if m.action == "StopTransaction"), None)
            how = (f"step {ended[0]} {ended[1].label()}, reason {ended[2].as_dict()['reason']}"
                   if ended else "not ended")
            rows.append((modes.labels[mode], how, trace[-1][2].observation.status))
        summaries.append((scenario.title, rows))
    for title, rows in summaries:
        print(f"=== How the four modes differ on: {title}")
        width = max(len(r[0]) for r in rows)
        print(f"{'stop transaction mode'.ljust(width)}  {'transaction ended by'.ljust(44)}  "
              f"final status")
        for label, how, final in rows:
            print(f"{label.ljust(width)}  {how.ljust(44)}  {final}")
        print()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
