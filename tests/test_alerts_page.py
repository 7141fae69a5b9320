"""The /alerts page: the alerts a role may see, their evidence and history, acknowledge and
resolve from the page, within the role's scope (no browser)."""
from __future__ import annotations

import pytest

from _alerts_support import NOW
from evaluation.alerts.engine import run
from evaluation.auth.roles import Principal
from evaluation.errors import OpevalError
from evaluation.serve import build_page
from evaluation.views.alerts_page import NO_ALERTS, AlertsPage
from evaluation.views.alerts_state import AlertsState
from evaluation.views.queries import ReadOnlyStore
from test_alerts_delivery import _network


@pytest.fixture(scope="module")
def fired(tmp_path_factory):
    """The network of the delivery tests after one run: P5 enters the blacklist (OCAA and
    OCBB have cuts there), DOBB's timestamp quality is 75 %."""
    path = tmp_path_factory.mktemp("alerts_page") / "db.duckdb"
    _network(path)
    r = run(path, now=NOW, rules=["blacklist_candidate", "do_timestamp_quality"])
    return path, {e.alert.key: e.alert.alert_id for e in r.fired}


def _state(path, role, oc=None, name=None):
    return AlertsState(ReadOnlyStore(path, principal=Principal(name or role, role, (), oc)))


def test_each_role_lists_the_alerts_of_its_scope(fired):
    """The network operator sees both; OCAA sees P5's only, with DO codes as pseudonyms
    and no other OC; the risk manager (no network page) sees none and is told why the
    list is empty."""
    path, ids = fired
    assert sorted(_state(path, "network_operator").frame()["rule"]) == [
        "blacklist_candidate", "do_timestamp_quality"]
    oc = _state(path, "oc", "OCAA")
    assert list(oc.frame()["alert_id"]) == [ids["P5"]]
    oc.alert_id = ids["P5"]
    text = oc.evidence()
    assert "DO-" in text and "DOAA" not in text and "OCBB" not in text
    oc.alert_id = ids["DOBB"]
    assert oc.selected() is None and oc.evidence() == ""
    page = AlertsPage(state=_state(path, "risk_manager"))
    assert page._empty.visible and not page._table.visible and page._empty.object == NO_ALERTS


def test_acknowledge_and_resolve_from_the_page_keep_who_and_history(tmp_path):
    """The network operator "nadia" selects DOBB's alert and acknowledges it with a note:
    the list says acknowledged by nadia, the history has fired then acknowledged with the
    note, Acknowledge is disabled. Resolve moves it out of the default list. OCAA cannot
    act on DOBB's alert: the same answer as for an alert that does not exist."""
    path = tmp_path / "db.duckdb"
    _network(path)
    r = run(path, now=NOW, rules=["blacklist_candidate", "do_timestamp_quality"])
    ids = {e.alert.key: e.alert.alert_id for e in r.fired}
    oc = _state(path, "oc", "OCAA")
    oc.alert_id = ids["DOBB"]
    with pytest.raises(OpevalError, match=f"no alert {ids['DOBB']}"):
        oc.acknowledge("not mine")
    page = AlertsPage(state=_state(path, "network_operator", name="nadia"))
    page.state.alert_id = ids["DOBB"]
    assert page._ack.visible and not page._ack.disabled
    page._note.value = "DOBB's HF are missing, asked their planner"
    page._ack.clicks += 1
    row = page.state.frame().set_index("alert_id").loc[ids["DOBB"]]
    assert (row["state"], row["acknowledged_by"]) == ("acknowledged", "nadia")
    hist = page.state.history()
    assert list(hist["event"]) == ["fired", "acknowledged"]
    assert list(hist["by"])[1] == "nadia" and "planner" in list(hist["note"])[1]
    assert page._ack.disabled and "acknowledged by nadia" in page._done.object
    page._resolve.clicks += 1
    assert ids["DOBB"] not in set(page.state.frame()["alert_id"])
    page.state.show = "resolved"
    assert list(page._table.value["alert_id"]) == [ids["DOBB"]]


def test_alerts_page_is_served_for_every_role(fired):
    path, _ids = fired
    template = build_page("/alerts", path)
    assert template.title == "opeval · Alerts"
