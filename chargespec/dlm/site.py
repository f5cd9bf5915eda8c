"""A DLM site: the master's settings, the stations and their connectors, read from a site file.

A site file uses the parameter ids of spec/parameters.yaml (and accepts the web UI's labels and
On/Off, like a configuration file).  Site-level parameters are those spec/dlm.yaml lists under
`site_parameters`; each station may set `station_parameters` (one supply line for both
connectors, §7.3) and each connector the `connector_parameters`.  `defaults:` gives connector
parameters shared by every connector that does not set them.  Every mistake is reported with
the file and line.

    site: Parking garage
    evse_sub_distribution_limit: [63, 63, 63]
    minimum_current_limit: 8
    defaults: {maximum_current: 32, disconnected_limit: 8}
    stations:
      - name: CP1
        single_power_line: On
        supply_line_capacity: 32
        connectors:
          - {name: CP1-1, phase_rotation: RST}
          - {name: CP1-2, phase_rotation: STR}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chargespec.errors import SpecError, Where
from chargespec.inputs import coerce_parameter
from chargespec.specmodel import Spec
from chargespec.yamlread import MDict, MList, read_yaml

PHASES = ("L1", "L2", "L3")  # grid phases, by index 0..2
IEC_MINIMUM = 6  # IEC 61851-1: no current below 6 A on the control pilot


@dataclass(frozen=True)
class Connector:
    """One connector (one controller) of the site."""

    index: int
    name: str
    station: int  # index into Site.stations
    maximum_current: int
    installation_current_limit: int
    operator_current_limit: int
    phases_connected: str  # Single | SingleIT | Three
    phase_rotation: str
    disconnected_limit: int
    grid: tuple[int, int, int]  # the grid phase of the charge point's L1, L2, L3
    where: Where

    @property
    def cap(self) -> int:
        """The connector's own limit: the lowest of the §7.2 hierarchy."""
        return min(self.maximum_current, self.installation_current_limit,
                   self.operator_current_limit)

    @property
    def three_phase(self) -> bool:
        return self.phases_connected == "Three"

    def phases(self, vehicle_phases: int) -> tuple[int, ...]:
        """The grid phases a vehicle using `vehicle_phases` phases loads here (§7.6, §7.8)."""
        if vehicle_phases == 3 and self.three_phase:
            return tuple(sorted(self.grid))
        return (self.grid[0],)

    def possible_phases(self) -> tuple[int, ...]:
        """Every grid phase some vehicle could load at this connector."""
        return self.phases(3)

    def describe_phases(self, vehicle_phases: int) -> str:
        use = "3-phase" if vehicle_phases == 3 and self.three_phase else "1-phase"
        on = "/".join(PHASES[p] for p in self.phases(vehicle_phases))
        return f"{self.name} ({use} vehicle, {self.phase_rotation} -> grid {on})"


@dataclass(frozen=True)
class Station:
    index: int
    name: str
    single_power_line: bool
    supply_line_capacity: int
    connectors: tuple[int, ...]
    where: Where


@dataclass(frozen=True)
class Site:
    name: str
    file: str
    evse_sub_distribution_limit: tuple[int, int, int]
    operator_evse_sub_distribution_limit: tuple[int, int, int]
    minimum_current_limit: int
    dlm_sample_rate: int
    external_meter_support: bool
    main_distribution_limit: tuple[int, int, int]
    external_load_headroom: tuple[int, int, int]
    external_load_fallback: tuple[int, int, int]
    external_meter_location: str
    current_imbalance_prevention: bool
    imbalance_limit: int
    stations: tuple[Station, ...]
    connectors: tuple[Connector, ...]
    lines: dict[str, int]  # parameter id -> line in the site file (for messages)

    def sub_distribution(self, phase: int) -> int:
        """min(EVSE Sub-Distribution Limit, Operator EVSE Sub-Distribution Limit) of a phase."""
        return min(self.evse_sub_distribution_limit[phase],
                   self.operator_evse_sub_distribution_limit[phase])

    @property
    def meter_including(self) -> bool:
        return self.external_meter_location == "IncludingSubDistribution"

    @property
    def served_minimum(self) -> int:
        return max(self.minimum_current_limit, IEC_MINIMUM)

    def connector(self, name: str) -> Connector:
        for c in self.connectors:
            if c.name == name:
                return c
        raise KeyError(name)


def _per_phase(value: Any, pid: str, where: Where) -> tuple[int, int, int]:
    if not (isinstance(value, (list, tuple)) and len(value) == 3):
        raise SpecError(where, f"{pid}: give one value per grid phase, [L1, L2, L3]")
    return tuple(value)  # type: ignore[return-value]


MAX_STATIONS = 128  # per site file: up to 256 connectors


def load_site(spec: Spec, path: Path | str) -> Site:
    """Read a site file; SpecError (file:line) on any mistake."""
    path = Path(path)
    file = str(path)
    doc = read_yaml(path)
    return site_from_doc(spec, doc, file)


def site_from_doc(spec: Spec, doc: Any, file: str) -> Site:
    dlm = spec.dlm
    if dlm is None:
        raise SpecError(Where(file), "the spec has no `kind: dlm` document")
    if not isinstance(doc, MDict):
        raise SpecError(Where(file, getattr(doc, "line", 1) or 1),
                        "a site file is a mapping (site:, stations:, and site parameters)")
    known = {"site", "stations", "defaults", *dlm.site_parameters}
    for key in doc:
        if key not in known:
            hint = ""
            if key in dlm.connector_parameters or key in dlm.station_parameters:
                hint = " (a connector or station parameter: set it under stations: or defaults:)"
            raise SpecError(Where(file, doc.key_lines[key]),
                            f"unknown site key {key!r}{hint}; site parameters: "
                            f"{', '.join(dlm.site_parameters)}")
    if "stations" not in doc or not isinstance(doc["stations"], MList) or not doc["stations"]:
        raise SpecError(Where(file, doc.key_lines.get("stations", doc.line)),
                        "a site needs `stations:`, a list with at least one station")

    def value(node: MDict, pid: str, fallback: Any = None) -> Any:
        p = spec.parameters[pid]
        if pid in node:
            where = Where(file, node.key_lines[pid])
            v = coerce_parameter(spec, pid, node[pid], where)
            return _per_phase(v, pid, where) if p.per_phase else v
        if fallback is not None:
            return fallback
        return tuple(p.default) if p.per_phase else p.default

    lines = {k: doc.key_lines[k] for k in doc}
    site_values = {pid: value(doc, pid) for pid in dlm.site_parameters}
    defaults = doc.get("defaults") or MDict()
    if not isinstance(defaults, MDict):
        raise SpecError(Where(file, doc.key_lines["defaults"]), "defaults: is a mapping")
    for key in defaults:
        if key not in dlm.connector_parameters:
            raise SpecError(Where(file, defaults.key_lines[key]),
                            f"defaults: {key!r} is not a connector parameter "
                            f"({', '.join(dlm.connector_parameters)})")
    default_values = {pid: value(defaults, pid) for pid in dlm.connector_parameters}

    stations: list[Station] = []
    connectors: list[Connector] = []
    names: dict[str, int] = {}
    snode = doc["stations"]
    if isinstance(snode, list) and len(snode) > MAX_STATIONS:
        raise SpecError(Where(file, getattr(snode, "line", 0)),
                        f"{len(snode)} stations, more than the limit of {MAX_STATIONS} (a "
                        f"resource bound of this tool: the proofs grow with the connectors)")
    for si, st in enumerate(snode):
        swhere = Where(file, snode.item_lines[si])
        if not isinstance(st, MDict) or "connectors" not in st:
            raise SpecError(swhere, "a station is a mapping with `name:` and `connectors:`")
        for key in st:
            if key not in ("name", "connectors", *dlm.station_parameters):
                raise SpecError(Where(file, st.key_lines[key]),
                                f"unknown station key {key!r} (name, connectors, "
                                f"{', '.join(dlm.station_parameters)})")
        sname = str(st.get("name", f"station {si + 1}"))
        cnode = st["connectors"]
        if not isinstance(cnode, MList) or not 1 <= len(cnode) <= 2:
            raise SpecError(Where(file, st.key_lines["connectors"]),
                            f"station {sname}: `connectors:` lists one or two connectors")
        members = []
        for ci, cn in enumerate(cnode):
            cwhere = Where(file, cnode.item_lines[ci])
            if not isinstance(cn, MDict):
                raise SpecError(cwhere, "a connector is a mapping with `name:` and its parameters")
            for key in cn:
                if key != "name" and key not in dlm.connector_parameters:
                    raise SpecError(Where(file, cn.key_lines[key]),
                                    f"unknown connector key {key!r} (name, "
                                    f"{', '.join(dlm.connector_parameters)})")
            cname = str(cn.get("name", f"{sname}-{ci + 1}"))
            if cname in names:
                raise SpecError(cwhere, f"duplicate connector name {cname!r}")
            names[cname] = len(connectors)
            vals = {pid: value(cn, pid, default_values[pid]) for pid in dlm.connector_parameters}
            connectors.append(Connector(
                index=len(connectors), name=cname, station=si,
                maximum_current=vals["maximum_current"],
                installation_current_limit=vals["installation_current_limit"],
                operator_current_limit=vals["operator_current_limit"],
                phases_connected=vals["phases_connected"],
                phase_rotation=vals["phase_rotation"],
                disconnected_limit=vals["disconnected_limit"],
                grid=dlm.rotations[vals["phase_rotation"]], where=cwhere))
            members.append(len(connectors) - 1)
        single = bool(value(st, "single_power_line"))
        if single and len(members) != 2:
            raise SpecError(Where(file, st.key_lines["single_power_line"]),
                            f"station {sname}: one supply line for both connectors needs two "
                            f"connectors")
        stations.append(Station(si, sname, single, value(st, "supply_line_capacity"),
                                tuple(members), swhere))
    return Site(
        name=str(doc.get("site", Path(file).stem)), file=file,
        evse_sub_distribution_limit=site_values["evse_sub_distribution_limit"],
        operator_evse_sub_distribution_limit=site_values["operator_evse_sub_distribution_limit"],
        minimum_current_limit=site_values["minimum_current_limit"],
        dlm_sample_rate=site_values["dlm_sample_rate"],
        external_meter_support=bool(site_values["external_meter_support"]),
        main_distribution_limit=site_values["main_distribution_limit"],
        external_load_headroom=site_values["external_load_headroom"],
        external_load_fallback=site_values["external_load_fallback"],
        external_meter_location=site_values["external_meter_location"],
        current_imbalance_prevention=bool(site_values["current_imbalance_prevention"]),
        imbalance_limit=dlm.imbalance_limit,
        stations=tuple(stations), connectors=tuple(connectors), lines=lines)
