"""GetConfiguration and ChangeConfiguration over the OCPP 1.6 keys of spec/configuration_keys.yaml
(interpretation CONFIG-KEYS): every key's value under the configuration, every value class a
change can carry (each boundary of an integer, each letter case of a boolean, members and
non-members of a list, connector items of a rotation), read-only and unknown keys, the derived
keys agreeing with what the machine does, a change taking effect on the next event, and the
table refused when it does not fit the parameters."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings, strategies as st

from chargespec import configkeys
from chargespec.errors import InputError, SpecError
from chargespec.expr import names
from chargespec.loader import load_spec
from chargespec.models.step import Engine
from chargespec.models.types import to_jsonable

from conftest import SPEC_DIR

CARD = "0a0e9b83"
ENGINE = Engine()
KEYS = ENGINE.keys


def get(engine, config, *names):
    _, _, out = engine.advance(config, engine.initial(config),
                               engine.event("get_configuration", key=list(names)))
    (msg,) = out.messages
    assert (msg.action, msg.kind) == ("GetConfiguration", "result")
    return to_jsonable(msg.as_dict())


def change(engine, config, key, value):
    new, _, out = engine.advance(config, engine.initial(config),
                                 engine.event("change_configuration", key=key, value=value))
    (msg,) = out.messages
    assert (msg.action, msg.kind) == ("ChangeConfiguration", "result")
    return msg.as_dict()["status"], new


def value_of(engine, config, key):
    (item,) = get(engine, config, key)["configurationKey"]
    return item["value"]


def writable(fmt):
    return [k for k in KEYS.keys if not k.readonly and k.format == fmt]


# ---------------------------------------------------------------- GetConfiguration

def test_every_key_reads_its_parameter_under_the_defaults_and_a_changed_configuration():
    config = ENGINE.config()
    listed = get(ENGINE, config)["configurationKey"]
    assert [i["key"] for i in listed] == [k.name for k in KEYS.keys]
    params = ENGINE.spec.parameters
    for item, k in zip(listed, KEYS.keys):
        assert item["readonly"] == k.readonly
        if k.parameter is not None:
            assert configkeys.parse(k, item["value"]) == params[k.parameter].default, k.name
    other = ENGINE.config({"local_pre_authorize": True, "vehicle_connection_timeout": 120,
                           "phase_rotation": "TSR", "heartbeat_interval": 30})
    assert value_of(ENGINE, other, "LocalPreAuthorize") == "true"
    assert value_of(ENGINE, other, "ConnectionTimeOut") == "120"
    assert value_of(ENGINE, other, "ConnectorPhaseRotation") == "0.TSR,1.TSR"
    assert value_of(ENGINE, other, "HeartbeatInterval") == "30"


def test_named_keys_come_in_the_order_asked_and_unknown_ones_apart():
    config = ENGINE.config()
    got = get(ENGINE, config, "heartbeatinterval", "NoSuchKey", "LocalPreAuthorize",
              "HeartbeatInterval", "NoSuchKey")
    assert [i["key"] for i in got["configurationKey"]] == ["HeartbeatInterval",
                                                           "LocalPreAuthorize"]
    assert got["unknownKey"] == ["NoSuchKey"]
    assert get(ENGINE, config, "Nope") == {"unknownKey": ["Nope"]}


def test_the_configuration_key_payloads_are_valid_ocpp():
    from chargespec.ocpp16 import validation_errors
    config = ENGINE.config()
    assert validation_errors("GetConfiguration", "result", get(ENGINE, config)) == []
    assert validation_errors("GetConfiguration", "result",
                             get(ENGINE, config, "LocalPreAuthorize", "X")) == []
    for status in ("NotSupported", "Rejected", "Accepted"):
        assert validation_errors("ChangeConfiguration", "result", {"status": status}) == []
    assert change(ENGINE, config, "X", "1")[0] == "NotSupported"


@pytest.mark.parametrize("setting, key", [
    ("stop_transaction_mode", "StopTransactionOnEVSideDisconnect"),
    ("stop_transaction_mode", "UnlockConnectorOnEVSideDisconnect"),
    ("if_in_doubt_allow_charging", "AllowOfflineTxForUnknownId"),
    ("master_slave_mode", "NumberOfConnectors")])
def test_a_derived_key_follows_its_setting_and_is_read_only(setting, key):
    k = KEYS.find(key)
    assert k.readonly and k.derived_from == setting
    for value in ENGINE.spec.parameters[setting].values:
        config = ENGINE.config({setting: value})
        assert value_of(ENGINE, config, key) == dict(k.derived_map)[value]
        assert change(ENGINE, config, key, "true") == ("Rejected", config)


@pytest.mark.parametrize("mode", ["Normal", "StopOnlyByDisconnecting", "OnlyByRfidOrRemoteStop",
                                  "NormalModeDRcd"])
def test_the_ev_side_disconnect_keys_say_what_the_machine_does(run, mode):
    r = run(stop_transaction_mode=mode).all(
        "plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
        "ev_request_charge", "unplug")
    config = ENGINE.config({"stop_transaction_mode": mode})
    stops = value_of(ENGINE, config, "StopTransactionOnEVSideDisconnect") == "true"
    unlocks = value_of(ENGINE, config, "UnlockConnectorOnEVSideDisconnect") == "true"
    assert stops == (r.stop_reasons() == ["EVDisconnected"])
    assert unlocks == (r.state.lock == "open")


@pytest.mark.parametrize("doubt", ["Off", "On", "ImmediatePlugIn"])
def test_allow_offline_tx_for_unknown_id_says_whether_an_unknown_card_charges_offline(run, doubt):
    r = run(if_in_doubt_allow_charging=doubt).all(
        ("error_raised", {"error": "backend_disconnected"}), "plug", ("rfid", {"uid": CARD}),
        "ev_request_charge")
    allowed = value_of(ENGINE, ENGINE.config({"if_in_doubt_allow_charging": doubt}),
                       "AllowOfflineTxForUnknownId") == "true"
    assert allowed == (r.obs.contactor == "closed")


# ---------------------------------------------------------------- ChangeConfiguration

@pytest.mark.parametrize("key", [k.name for k in writable("bool")])
def test_a_boolean_takes_true_and_false_in_any_case_and_nothing_else(key):
    k = KEYS.find(key)
    config = ENGINE.config()
    for text, want in (("true", True), ("FALSE", False), ("True", True), ("false", False)):
        status, new = change(ENGINE, config, key, text)
        assert status == "Accepted" and getattr(new, k.parameter) is want
        assert value_of(ENGINE, new, key) == str(want).lower()
    for text in ("1", "0", "yes", "", " true", "truee"):
        assert change(ENGINE, config, key, text) == ("Rejected", config), text


@pytest.mark.parametrize("key", [k.name for k in writable("int")])
def test_an_integer_is_accepted_at_its_bounds_and_rejected_beyond_them(key):
    k = KEYS.find(key)
    config = ENGINE.config()
    for n in (k.lo, k.hi, (k.lo + k.hi) // 2):
        status, new = change(ENGINE, config, key, str(n))
        assert status == "Accepted" and getattr(new, k.parameter) == n
        assert value_of(ENGINE, new, key) == str(n)
    for text in (str(k.lo - 1), str(k.hi + 1), "-1", "1.5", "", "ten", " 5", "1e3",
                 "9" * 11):
        assert change(ENGINE, config, key, text) == ("Rejected", config), text


@pytest.mark.parametrize("key", [k.name for k in writable("csl")])
def test_a_list_takes_members_of_its_set_in_any_case(key):
    k = KEYS.find(key)
    config = ENGINE.config()
    status, new = change(ENGINE, config, key, "voltage, Energy.Active.Import.Register,SoC")
    assert status == "Accepted"
    assert value_of(ENGINE, new, key) == "Voltage,Energy.Active.Import.Register,SoC"
    assert change(ENGINE, config, key, "")[0] == "Accepted"  # no measurand at all
    assert change(ENGINE, config, key, "Voltage,Fuel.Level") == ("Rejected", config)
    assert change(ENGINE, config, key, "Voltage,,SoC") == ("Rejected", config)
    assert k.members


def test_the_phase_rotation_is_written_per_connector():
    config = ENGINE.config()
    key = "ConnectorPhaseRotation"
    for text, want in (("1.STR", "STR"), ("0.TRS", "TRS"), ("0.RST,1.RTS", "RTS"),
                       ("1.SRT, 0.RST", "SRT")):
        status, new = change(ENGINE, config, key, text)
        assert status == "Accepted" and new.phase_rotation == want, text
    for text in ("STR", "2.STR", "1.XYZ", "1.str", "1.STR,1.RST", "", "1."):
        assert change(ENGINE, config, key, text) == ("Rejected", config), text


@pytest.mark.parametrize("key", [k.name for k in KEYS.keys if k.readonly])
def test_a_read_only_key_is_rejected_and_keeps_its_value(key):
    config = ENGINE.config()
    before = value_of(ENGINE, config, key)
    assert change(ENGINE, config, key, before) == ("Rejected", config)
    assert change(ENGINE, config, key.upper(), "2") == ("Rejected", config)


def test_an_unknown_key_is_not_supported_and_the_name_is_compared_without_case():
    config = ENGINE.config()
    assert change(ENGINE, config, "NoSuchKey", "true") == ("NotSupported", config)
    assert change(ENGINE, config, "", "true") == ("NotSupported", config)
    assert change(ENGINE, config, "localpreauthorize", "true")[0] == "Accepted"


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.sampled_from([k.name for k in KEYS.keys]), st.text(max_size=50)),
       value=st.one_of(st.text(max_size=40), st.integers(-5, 100_000).map(str),
                       st.sampled_from(["true", "false", "TRUE", "0.RST", "1.TSR", "Voltage"])))
def test_for_all_requests_the_answer_is_a_status_and_an_accepted_value_reads_back(key, value):
    config = ENGINE.config()
    status, new = change(ENGINE, config, key, value)
    assert status in configkeys.STATUSES
    k = KEYS.find(key)
    if status == "Accepted":
        assert k is not None and not k.readonly
        parsed = configkeys.parse(k, value)
        assert getattr(new, k.parameter) == (tuple(parsed) if isinstance(parsed, list)
                                             else parsed)
        assert configkeys.parse(k, value_of(ENGINE, new, k.name)) == parsed
    else:
        assert new == config
        assert status == ("NotSupported" if k is None else "Rejected")


def test_a_change_applies_from_the_next_event_and_leaves_the_state(run):
    """LocalPreAuthorize set true between two cards: the second cached card starts at once,
    without Authorize.req (the first was asked about)."""
    r = run(enable_ocpp_whitelist=True).all(
        "plug", ("rfid", {"uid": CARD}), ("authorize_conf", {"status": "Accepted"}),
        "ev_request_charge", ("rfid", {"uid": CARD}), "unplug", "cable_removed")
    assert CARD in r.state.cache and r.messages("Authorize")
    before = r.state
    config, state, out = ENGINE.advance(r.config, r.state, ENGINE.event(
        "change_configuration", key="LocalPreAuthorize", value="true"))
    assert state == before and out.messages[0].as_dict() == {"status": "Accepted"}
    r.config = config
    n = len(r.messages("Authorize"))
    r.all("plug", ("rfid", {"uid": CARD}))
    assert len(r.messages("Authorize")) == n and r.state.session == "transaction"


def test_stop_transaction_on_invalid_id_set_true_during_a_refused_transaction(run):
    r = run(if_in_doubt_allow_charging="On", stop_transaction_on_invalid_id=False).all(
        ("error_raised", {"error": "backend_disconnected"}), "plug", ("rfid", {"uid": CARD}),
        "ev_request_charge", "backend_online", ("start_tx_conf", {"status": "Invalid"}))
    assert r.state.deauthorized
    r.config, r.state, _ = ENGINE.advance(r.config, r.state, ENGINE.event(
        "change_configuration", key="StopTransactionOnInvalidId", value="true"))
    assert r.state.deauthorized and r.obs.contactor == "open"  # the refusal stands
    r.all("unplug")
    assert r.stop_reasons() == ["EVDisconnected"] and not r.state.deauthorized


def test_engine_run_carries_a_change_to_the_events_after_it():
    config = ENGINE.config(send_authorize_for_remote_start=True)
    run = ENGINE.run(config, [
        ENGINE.event("change_configuration", key="AuthorizeRemoteTxRequests", value="false"),
        ENGINE.event("remote_start", id_tag=CARD)])
    assert [m.action for m in run[-1][2].messages] == ["RemoteStartTransaction"]
    assert run[-1][1].session == "authorized"  # started at once, no Authorize.req


@pytest.mark.parametrize("name, fields, says", [
    ("change_configuration", {"key": "K" * 51, "value": "1"}, "at most 50"),
    ("change_configuration", {"key": "K", "value": "v" * 501}, "at most 500"),
    ("change_configuration", {"key": "K", "value": 5}, "must be a string"),
    ("change_configuration", {"key": "K"}, "takes field(s)"),
    ("get_configuration", {"key": ["K"] * 51}, "at most 50 strings"),
    ("get_configuration", {"key": "HeartbeatInterval"}, "must be a list"),
])
def test_a_malformed_request_is_bad_input(name, fields, says):
    with pytest.raises(InputError) as e:
        ENGINE.event(name, **fields)
    assert says in str(e.value)


# ---------------------------------------------------------------- the table, checked

@pytest.fixture
def spec_copy(tmp_path):
    dst = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, dst, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return dst


@pytest.mark.parametrize("old, new, says", [
    ("  HeartbeatInterval:\n    parameter: heartbeat_interval\n",
     "  HeartbeatIntervalX:\n    parameter: heartbeat_interval\n",
     "names the key 'HeartbeatInterval'"),
    ("  WebSocketPingInterval:\n    parameter: websockets_keepalive_interval\n    profile: Core\n"
     "    ocpp: \"§9.1\"\n", "", "has ocpp_key WebSocketPingInterval, but no key"),
    ("map: {\"Off\": \"1\", Master: \"2\", Slave: \"1\"}", "map: {\"Off\": \"1\", Master: \"2\"}",
     "must give every value"),
    ("    parameter: local_pre_authorize\n", "    parameter: local_pre_authorize\n"
     "    format: int\n", "does not fit parameter local_pre_authorize"),
    ("  ResetRetries:\n", "  resetretries:\n    value: \"1\"\n    profile: Core\n"
     "    ocpp: \"§9.1\"\n  ResetRetries:\n", "the same key as"),
    ("    value: \"50\"\n", "    value: \"50\"\n    access: RW\n", "read-only"),
])
def test_a_key_table_that_does_not_fit_the_parameters_is_refused(spec_copy, old, new, says):
    path = spec_copy / "configuration_keys.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as e:
        load_spec(spec_copy)
    assert says in str(e.value) and "configuration_keys.yaml" in str(e.value)


def test_a_change_that_breaks_an_invariant_is_found_by_the_proof(spec_copy):
    """The induction's ChangeConfiguration query is not vacuous: an invariant that reads a
    writable key's parameter fails it."""
    from chargespec.checkers.induction import prove
    path = spec_copy / "session.yaml"
    text = path.read_text()
    old = "    expr: not deauthorized or session == 'transaction'\n"
    assert old in text
    path.write_text(text.replace(old, "    expr: not deauthorized or (session == 'transaction'"
                                      " and not stop_transaction_on_invalid_id)\n"))
    r = prove(load_spec(spec_copy))
    why = dict(r.failures)["deauthorized_only_in_a_transaction"]
    assert why.startswith("a ChangeConfiguration to ") and "stop_transaction_on_invalid_id=True" in why


# ---------------------------------------------------------------- the vectors catch the bugs

VECTORS = SPEC_DIR.parent / "vectors" / "configuration.json"


class _Faulty:
    """The reference with one configuration bug; `observations` as the reference's."""

    name = "faulty"
    observations = ["status", "messages"]

    def __init__(self):
        from chargespec.reference import Reference
        self.ref = Reference()

    def reset(self, config):
        self.ref.reset(config)

    def step(self, event):
        return self.ref.step(self.rewrite(event))

    def rewrite(self, event):
        return event


class AcceptsWithoutChanging(_Faulty):
    """Answers Accepted for a valid value, but keeps the old setting."""

    def step(self, event):
        if event["name"] != "change_configuration":
            return self.ref.step(event)
        obs = self.ref.step({"name": "get_configuration", "key": []})  # a step that changes nothing
        k = KEYS.find(event["key"])
        ok = k is not None and not k.readonly and configkeys.parse(k, event["value"]) is not None
        status = "Accepted" if ok else ("NotSupported" if k is None else "Rejected")
        return {**obs, "messages": [{"action": "ChangeConfiguration", "kind": "result",
                                     "fields": {"status": status}}]}


class OffByOneBounds(_Faulty):
    """Takes an integer one past its upper bound as the bound itself."""

    def rewrite(self, event):
        if event["name"] == "change_configuration":
            k = KEYS.find(event["key"])
            if k is not None and k.format == "int" and event["value"] == str((k.hi or 0) + 1):
                return {**event, "value": str(k.hi)}
        return event


class CaseSensitiveBooleans(_Faulty):
    """Rejects "TRUE" / "False": only the lower-case spelling is a boolean."""

    def rewrite(self, event):
        if event["name"] == "change_configuration" and event["value"] in ("TRUE", "False"):
            return {**event, "value": "maybe"}
        return event


@pytest.mark.parametrize("faulty", ["AcceptsWithoutChanging", "OffByOneBounds",
                                    "CaseSensitiveBooleans"])
def test_the_configuration_vectors_catch_a_faulty_charge_point(faulty):
    from chargespec.conform import InProcess, run_file
    assert all(o.status == "passed" for o in run_file(InProcess("reference"), VECTORS))
    outcomes = run_file(InProcess(f"test_configuration_keys:{faulty}"), VECTORS)
    assert any(o.status == "failed" for o in outcomes), faulty


def test_the_configuration_vectors_cover_every_key_and_value_class():
    import json
    doc = json.loads(VECTORS.read_text())
    tried = {(s["event"]["key"], s["event"]["value"]) for g in doc["testGroups"]
             for t in g["tests"] for s in t["steps"] if s["event"]["name"] == "change_configuration"}
    from chargespec.configvectors import summary, value_classes
    for k in KEYS.keys:
        if k.readonly:
            assert any(name == k.name for name, _ in tried), k.name
        else:
            assert {(k.name, text) for text, _ in value_classes(k)} <= tried, k.name
    s = summary(ENGINE, doc)
    assert s["keysRead"] == s["keys"] == len(KEYS.keys)
    assert s["writableKeysChanged"] == s["writableKeys"]
    assert s["readOnlyKeysRefused"] == sum(k.readonly for k in KEYS.keys)
    read = {p for r in ENGINE.machine.rules if r.when is not None for p in names(r.when)}
    boolean_read = {k.name for k in KEYS.keys
                    if k.format == "bool" and not k.readonly and k.parameter in read}
    assert s["effectTests"] == 2 * len(boolean_read) and len(boolean_read) >= 5


def test_get_configuration_keys_compare_in_any_order():
    from chargespec.compare import messages_differ
    items = [{"key": "A", "readonly": False, "value": "1"}, {"key": "B", "readonly": True,
                                                             "value": "x"}]
    want = [{"action": "GetConfiguration", "kind": "result",
             "fields": {"configurationKey": items, "unknownKey": ["X", "Y"]}}]
    got = [{"action": "GetConfiguration", "kind": "result",
            "fields": {"configurationKey": items[::-1], "unknownKey": ["Y", "X"]}}]
    assert messages_differ(want, got) is None
    got[0]["fields"]["configurationKey"][0] = {**items[1], "value": "y"}
    assert messages_differ(want, got) is not None


def test_spec_keys_prints_the_table(capsys):
    from chargespec.cli import main
    assert main(["spec", "keys"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(KEYS.keys)
    assert any(line.split()[:3] == ["ConnectionTimeOut", "RW", "45"] for line in lines)
    assert main(["spec", "keys", "--json"]) == 0
    import json
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["key"]: r["access"] for r in rows}["NumberOfConnectors"] == "R"
