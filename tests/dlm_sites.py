"""Sites and ticks for the DLM tests: a builder, and Hypothesis strategies for random ones."""

from __future__ import annotations

from hypothesis import strategies as st

from chargespec.dlm.allocator import Tick, Vehicle
from chargespec.dlm.site import Connector, Site, Station
from chargespec.errors import Where

ROTATIONS = {"RST": (0, 1, 2), "STR": (1, 2, 0), "TRS": (2, 0, 1), "RTS": (0, 2, 1),
             "SRT": (1, 0, 2), "TSR": (2, 1, 0)}


def connector(index, name=None, station=0, cap=32, rotation="RST", phases="Three",
              disconnected=7, maximum=None, installation=None):
    return Connector(index=index, name=name or f"C{index + 1}", station=station,
                     maximum_current=maximum if maximum is not None else cap,
                     installation_current_limit=installation if installation is not None else cap,
                     operator_current_limit=cap, phases_connected=phases,
                     phase_rotation=rotation, disconnected_limit=disconnected,
                     grid=ROTATIONS[rotation], where=Where("test", 0))


def site(connectors, sub=(63, 63, 63), op_sub=None, minimum=7, stations=None, meter=False,
         main=(100, 100, 100), headroom=(0, 0, 0), fallback=(9999, 9999, 9999),
         including=True, imbalance=False, name="test site"):
    connectors = tuple(connectors)
    if stations is None:
        stations = tuple(Station(c.station, f"S{c.station + 1}", False, 32, (c.index,),
                                 Where("test", 0)) for c in connectors)
    return Site(name=name, file="test", evse_sub_distribution_limit=tuple(sub),
                operator_evse_sub_distribution_limit=tuple(op_sub or sub),
                minimum_current_limit=minimum, dlm_sample_rate=30,
                external_meter_support=meter, main_distribution_limit=tuple(main),
                external_load_headroom=tuple(headroom), external_load_fallback=tuple(fallback),
                external_meter_location=("IncludingSubDistribution" if including
                                         else "ExcludingSubDistribution"),
                current_imbalance_prevention=imbalance, imbalance_limit=20,
                stations=tuple(stations), connectors=connectors, lines={})


def tick(site_, *vehicles, meter=(0, 0, 0), lost=(), served=(), arrival=None):
    vs = tuple(vehicles) + (None,) * (len(site_.connectors) - len(vehicles))
    return Tick(vs, meter, frozenset(lost), frozenset(served), arrival)


# ---------------------------------------------------------------- random sites and ticks

@st.composite
def sites(draw, max_stations=6):
    n_st = draw(st.integers(1, max_stations))
    connectors, stations = [], []
    for s in range(n_st):
        dual = draw(st.booleans())
        members = []
        for _ in range(2 if dual else 1):
            i = len(connectors)
            maximum = draw(st.sampled_from([16, 20, 32]))
            inst = draw(st.integers(6, maximum))
            cap = draw(st.integers(0, inst))
            connectors.append(connector(
                i, station=s, cap=cap, maximum=maximum, installation=inst,
                rotation=draw(st.sampled_from(sorted(ROTATIONS))),
                phases=draw(st.sampled_from(["Three", "Three", "Single"])),
                disconnected=draw(st.sampled_from([0, 6, 7, 8, 10, 16]))))
            members.append(i)
        single = dual and draw(st.booleans())
        stations.append(Station(s, f"S{s + 1}", single, draw(st.sampled_from([16, 32, 40])),
                                tuple(members), Where("test", 0)))
    sub = tuple(draw(st.integers(0, 80)) for _ in range(3))
    op_sub = tuple(min(x, draw(st.integers(0, 80))) for x in sub)
    meter = draw(st.booleans())
    return site(connectors, sub=sub, op_sub=op_sub, minimum=draw(st.integers(6, 10)),
                stations=stations, meter=meter,
                main=tuple(draw(st.integers(0, 120)) for _ in range(3)),
                headroom=tuple(draw(st.integers(0, 10)) for _ in range(3)),
                fallback=tuple(draw(st.sampled_from([0, 20, 60, 9999])) for _ in range(3)),
                including=draw(st.booleans()), imbalance=draw(st.booleans()))


@st.composite
def vehicles(draw, site_):
    out = []
    for c in site_.connectors:
        if draw(st.booleans()):
            out.append(Vehicle(phases=draw(st.sampled_from([1, 3])),
                               demand=draw(st.one_of(st.none(), st.integers(0, 40))),
                               drawn=draw(st.integers(0, max(c.cap, 0)))))
        else:
            out.append(None)
    return tuple(out)


@st.composite
def sites_and_ticks(draw, max_stations=6, lost=True):
    s = draw(sites(max_stations))
    n = len(s.connectors)
    vs = draw(vehicles(s))
    meter = draw(st.one_of(st.none(), st.tuples(*[st.integers(0, 150)] * 3)))
    lost_set = frozenset(draw(st.sets(st.integers(0, n - 1), max_size=n))) if lost else frozenset()
    served = frozenset(draw(st.sets(st.integers(0, n - 1), max_size=n)))
    arrival = tuple(draw(st.integers(0, 5)) for _ in range(n))
    return s, Tick(vs, meter, lost_set, served, arrival)
