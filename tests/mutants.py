"""Seeded faulty implementations: the reference with one bug each, the kinds firmware teams ship.

Each mutant is an in-process adapter (`tests.mutants:Name` style, see MUTANTS) that wraps the
reference and changes one thing: a setting it ignores, an event it drops, or an observation it
reports wrongly.  The vectors must kill every one (some test fails); test_mutants.py asserts
that and prints the kill rate.
"""

from __future__ import annotations

import copy
from typing import Any

from chargespec.reference import Reference


_ENGINE: list = []  # one compiled reference engine for every mutant (compiling takes a second)


class Mutant(Reference):
    bug = ""

    def __init__(self) -> None:
        if not _ENGINE:
            from chargespec.models.step import Engine
            _ENGINE.append(Engine())
        super().__init__(_ENGINE[0])

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"mutant {type(self).__name__}: {self.bug}"

    def reset(self, config: dict[str, Any]) -> None:
        self.cfg = dict(config)
        self.prev: dict[str, Any] | None = None
        super().reset(self.configure(dict(config)))

    def step(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.drops(event) and self.prev is not None:
            obs = {**self.prev, "messages": [], "indications": []}
        else:
            obs = self.alter(event, copy.deepcopy(super().step(event)))
        self.prev = obs
        return obs

    # hooks
    def configure(self, config: dict[str, Any]) -> dict[str, Any]:
        return config

    def drops(self, event: dict[str, Any]) -> bool:
        return False

    def alter(self, event: dict[str, Any], obs: dict[str, Any]) -> dict[str, Any]:
        return obs


def _calls(obs: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [m for m in obs.get("messages", []) if m["action"] == action and m["kind"] == "call"]


class StopReasonSwapped(Mutant):
    bug = "StopTransaction by the same card says Remote instead of Local"

    def alter(self, event, obs):
        for m in _calls(obs, "StopTransaction"):
            if m["fields"].get("reason") == "Local":
                m["fields"]["reason"] = "Remote"
        return obs


class UnplugEndsRfidOnlyTransaction(Mutant):
    bug = "under Only by RFID/RemoteStop, unplugging the car ends the transaction"

    def alter(self, event, obs):
        if (event["name"] == "unplug" and obs.get("status") == "SuspendedEV"
                and self.cfg.get("stop_transaction_mode") == "OnlyByRfidOrRemoteStop"):
            obs["status"] = "Finishing"
            obs["messages"] = [{"action": "StopTransaction", "kind": "call",
                                "fields": {"reason": "EVDisconnected"}}] + obs["messages"]
        return obs


class MissingFinishingNotification(Mutant):
    bug = "no StatusNotification(Finishing) when a transaction ends"

    def alter(self, event, obs):
        obs["messages"] = [m for m in obs["messages"] if not (
            m["action"] == "StatusNotification" and m["fields"].get("status") == "Finishing")]
        return obs


class WrongIdTagMode4(Mutant):
    bug = "Free Charging mode 4 sends the card's UID instead of the fixed idTag"

    def alter(self, event, obs):
        if self.cfg.get("free_charging_mode") == "FullFixedRfidWithAuth" and \
                event["name"] == "rfid":
            for m in obs["messages"]:
                if "idTag" in m["fields"]:
                    m["fields"]["idTag"] = event["uid"]
        return obs


class DlmAboveLimit(Mutant):
    bug = "the DLM offers a served connector 10 A above its own limits"

    def alter(self, event, obs):
        if "amps" in obs:
            amps = obs["amps"]
            for i, a in enumerate(amps):
                if a:
                    amps[i] = a + 10
                    break
        return obs


class ErrorKeepsCharging(Mutant):
    bug = "an error that stops transactions leaves the contactor closed"

    def alter(self, event, obs):
        if event["name"] == "error_raised" and self.prev is not None and \
                self.prev.get("contactor") == "closed" and obs.get("contactor") == "open":
            obs["contactor"] = "closed"
        return obs


class NoAuthorizeRequest(Mutant):
    bug = "an unknown card starts charging without Authorize.req"

    def alter(self, event, obs):
        obs["messages"] = [m for m in obs["messages"] if m["action"] != "Authorize"]
        return obs


class LockNeverCloses(Mutant):
    bug = "the socket is never locked"

    def alter(self, event, obs):
        if "lock" in obs:
            obs["lock"] = "open"
        return obs


class DutyCycleOffByOne(Mutant):
    bug = "the pilot duty cycle is computed 1 % too high (IEC 61851-1 Annex A)"

    def alter(self, event, obs):
        if isinstance(obs.get("duty_cycle"), (int, float)) and obs["duty_cycle"] < 100:
            obs["duty_cycle"] = obs["duty_cycle"] + 1
        return obs


class LedAlwaysGreen(Mutant):
    bug = "the LED shows green while Finishing"

    def alter(self, event, obs):
        if obs.get("status") == "Finishing":
            obs["led"] = "green"
        return obs


class SilentRefusal(Mutant):
    bug = "a refused card gives no indication to the user"

    def alter(self, event, obs):
        obs["indications"] = [i for i in obs["indications"] if i != "card_refused"]
        return obs


class IgnoresLocalPreAuthorize(Mutant):
    bug = "Local Pre Authorize is ignored: every card goes to the backend"

    def configure(self, config):
        config.pop("local_pre_authorize", None)
        return config


class IgnoresIfInDoubt(Mutant):
    bug = "If in doubt allow charging is ignored (always Off)"

    def configure(self, config):
        config.pop("if_in_doubt_allow_charging", None)
        return config


class IgnoresLockOnlyIfAuthorized(Mutant):
    bug = "Lock actuator only if authorized is ignored"

    def configure(self, config):
        config["lock_actuator_only_if_authorized"] = not config.get(
            "lock_actuator_only_if_authorized", False)
        return config


class IgnoresConnectionTimeout(Mutant):
    bug = "the vehicle connection timeout never cancels an authorization"

    def drops(self, event):
        return event["name"] == "connection_timeout"


class IgnoresReservationExpiry(Mutant):
    bug = "a reservation never expires"

    def drops(self, event):
        return event["name"] == "reservation_expired"


class FinishingSkipped(Mutant):
    bug = "the connector reports Available, not Finishing, after a transaction while the cable is in"

    def alter(self, event, obs):
        if obs.get("status") == "Finishing":
            obs["status"] = "Available"
        return obs


class RemoteStartAlwaysAccepted(Mutant):
    bug = "RemoteStartTransaction is Accepted even while a transaction runs"

    def alter(self, event, obs):
        for m in obs["messages"]:
            if m["action"] == "RemoteStartTransaction" and m["kind"] == "result":
                m["fields"]["status"] = "Accepted"
        return obs



class ReaderCaseKept(Reference):
    """A data-level bug: the UID is written in the letter case the reader delivers, whatever
    RFID Tag letter case says (§5.3)."""

    name = "mutant ReaderCaseKept: the reader's letter case is kept"

    def __init__(self) -> None:
        from chargespec.models.step import Engine
        from chargespec.rfid import WRONG_RENDERINGS
        super().__init__(Engine(helpers={"render_uid": WRONG_RENDERINGS["reader_case_kept"][0]}))


MUTANTS = [StopReasonSwapped, UnplugEndsRfidOnlyTransaction, MissingFinishingNotification,
           WrongIdTagMode4, DlmAboveLimit, ErrorKeepsCharging, NoAuthorizeRequest,
           LockNeverCloses, DutyCycleOffByOne, LedAlwaysGreen, SilentRefusal,
           IgnoresLocalPreAuthorize, IgnoresIfInDoubt, IgnoresLockOnlyIfAuthorized,
           IgnoresConnectionTimeout, IgnoresReservationExpiry, FinishingSkipped,
           RemoteStartAlwaysAccepted, ReaderCaseKept]
