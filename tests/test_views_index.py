"""The ``/`` page says what needs attention today (issue 15 item 4): blacklist candidates,
overdue systems, floods and stale alarms, each a link to its page and filter, within the
role's scope, dated by the run of the alert rules they come from — and says so when the
rules never ran, did not check a rule, or have no data to judge (no verdict without
evidence). Every store is hand-made; the alerts each one raises are worked out in the
fixtures' docstrings (tests/test_alerts_rules.py, tests/test_alerts_delivery.py)."""
from __future__ import annotations

import datetime as dt

import pytest

import evaluation_fixture as F
from _alerts_support import NOW, put
from evaluation.alerts.engine import run
from evaluation.alerts.service import acknowledge
from evaluation.alerts.store import OPEN, Alert, Check
from evaluation.auth.roles import Principal
from evaluation.store import db
from evaluation.views.index_page import NEVER_CHECKED, SHOWN, IndexPage, attention_html
from evaluation.views.index_state import Attention, Card, IndexState
from evaluation.views.queries import ReadOnlyStore
from test_alerts_delivery import _network
from test_alerts_rules import _closed

FLOOD = dt.datetime(2025, 6, 28, 10, 0)
"""Within the flood rule's window: the last 7 days of data, which end on 2025-06-30."""
RULES = ["blacklist_candidate", "maintenance_overdue", "alarm_flood", "stale_alarms",
         "do_timestamp_quality"]


def _store(path, role=None, oc=None) -> IndexState:
    who = Principal(role, role, (), oc) if role else None
    return IndexState(ReadOnlyStore(path, principal=who))


def _cards(state: IndexState) -> dict[str, tuple[list[str], bool, bool]]:
    """rule -> (keys of its alerts, checked, data)."""
    return {c.rule: ([a.key for a in c.alerts], c.checked, c.data)
            for c in state.attention().cards}


def build(path):
    """One store with each kind of trouble, and one run of five rules at NOW:

    * the chapter 6 fixture: S4 has no maintenance record at all, so it is overdue
      (5.1.2; S1–S3 are within their cycle as of 2025-06-30): one alert, S4;
    * eleven alarms of S1 within 10:00–10:09:30 on 2025-06-28, closed after 5 s: one
      flood (ISA-18.2: more than 10 in a 10-minute period), within the rule's last 7 days
      of data (the fixture's last alarm is of 2025-06-30 23:00). Standing more than 24 h
      on the last day of data: the fixture's A8, A9 and A10 only, 3 < 5 (the daily
      benchmark), so no stale-alarm alert;
    * the network of the delivery tests: P5 enters the blacklist (cuts of OCAA and OCBB
      there), DOBB's timestamp quality is 75 % < 90 % (an "other" alert: no card).
    """
    con = db.connect(path)
    F.load(con)
    con.close()
    put(path, alarms=[_closed(f"F{i}", "Door", f"R{i}", FLOOD + dt.timedelta(minutes=i))
                      for i in range(10)]
        + [_closed("F10", "Door", "R10", FLOOD + dt.timedelta(minutes=9, seconds=30))])
    _network(path)
    r = run(path, now=NOW, rules=RULES)
    assert not r.errors, r.errors
    return path


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    return build(tmp_path_factory.mktemp("index") / "db.duckdb")


def test_each_card_lists_its_rules_alerts_for_the_whole_store(everything):
    """The local administrator (no --auth) sees the four cards: P5; S4; the flood of S1;
    no stale alarm (checked, none open); DOBB's alert is counted among the others. The
    run is the one at NOW (2025-07-01 06:00 UTC; the store's zone is UTC)."""
    state = _store(everything)
    a = state.attention()
    assert a.check.at == NOW and set(a.check.rules) == set(RULES)
    cards = _cards(state)
    assert cards["blacklist_candidate"] == (["P5"], True, True)
    assert cards["maintenance_overdue"] == (["S4"], True, True)
    assert len(cards["alarm_flood"][0]) == 1 and cards["alarm_flood"][1:] == (True, True)
    assert cards["stale_alarms"] == ([], True, True)
    assert a.others == 1
    text = attention_html(a)
    assert "2025-07-01T06:00:00+00:00 (UTC)" in text
    assert 'href="./evaluation?system=S4' in text and 'href="./outages?' in text
    assert 'href="./alarms?' in text and "none open" in text
    assert 'Other open alerts: <a href="./alerts">1</a>' in text


@pytest.mark.parametrize("role, oc, cards, others", [
    ("network_operator", None, {"blacklist_candidate": ["P5"]}, 1),      # DOBB's quality
    ("oc", "OCAA", {"blacklist_candidate": ["P5"]}, 0),                 # its cuts are at P5
    ("oc", "OCCC", {"blacklist_candidate": []}, 0),                     # no line at P5
    ("risk_manager", None, {"maintenance_overdue": ["S4"], "alarm_flood": 1,
                            "stale_alarms": []}, 0),
    ("alarm_operator", None, {"alarm_flood": 1, "stale_alarms": []}, 0),
])
def test_each_role_sees_the_cards_of_its_pages_within_its_scope(everything, role, oc, cards,
                                                               others):
    """A card shows only where the role may open its page, and lists only the alerts the
    role may see (docs/security.md): an OC sees P5 because its own lines were cut there;
    another OC sees the card empty; nobody sees a card of another role's pages."""
    got = _cards(_store(everything, role, oc))
    assert set(got) == set(cards)
    for rule, want in cards.items():
        keys = got[rule][0]
        assert (len(keys) if isinstance(want, int) else keys) == want, rule
    assert _store(everything, role, oc).attention().others == others


def test_an_acknowledged_alert_stays_with_who_acknowledged_it(tmp_path):
    """Acknowledging is not fixing: P5 stays on its card, with the name of who saw it."""
    path = tmp_path / "db.duckdb"
    _network(path)
    run(path, now=NOW, rules=["blacklist_candidate"])
    state = _store(path)
    (p5,) = [c for c in state.attention().cards if c.rule == "blacklist_candidate"][0].alerts
    acknowledge(path, p5.alert_id, Principal("nadia", "network_operator"), "DO called")
    text = attention_html(state.attention())
    assert "(acknowledged by nadia)" in text and 'data-rule="blacklist_candidate"' in text


def test_no_verdict_without_a_run_a_check_or_data(tmp_path):
    """Three ways "0" would lie. A store where the rules never ran: the page says so
    instead of cards. A network-only store after a run of the blacklist rule alone: the
    overdue, flood and stale cards have no data to judge (no system, no alarm); then a
    store with systems whose last run did not check the overdue rule shows "?" — not
    "0" — and says the rule was not checked."""
    path = tmp_path / "db.duckdb"
    _network(path)
    assert IndexPage(state=_store(path))._attention().object == NEVER_CHECKED
    run(path, now=NOW, rules=["blacklist_candidate"])
    cards = _cards(_store(path))
    assert cards["maintenance_overdue"] == ([], False, False)
    assert cards["alarm_flood"][2] is False and cards["stale_alarms"][2] is False
    text = attention_html(_store(path).attention())
    assert text.count("no data to judge") == 3
    con = db.connect(path)
    F.load(con)
    con.close()
    cards = _cards(_store(path))
    assert cards["maintenance_overdue"] == ([], False, True)
    text = attention_html(_store(path).attention())
    assert '<p class="n">?</p>' in text and "not checked at the last run" in text


def _alert(i: int) -> Alert:
    at = dt.datetime(2025, 7, 1, 6, 0)
    return Alert(i, "blacklist_candidate", f"P{i}", "network", f"PM P{i} <b>", {},
                 f"/outages?pm=P{i}", {"pm_id": f"P{i}"}, OPEN, True, at, at, None, None, None,
                 None, None, None)


def test_a_long_card_lists_the_first_alerts_and_counts_the_rest():
    """SHOWN (5) alerts are listed; the 2 others of 7 are counted with a link to /alerts.
    Titles are escaped (a PM name is data)."""
    card = Card("blacklist_candidate", "Blacklist candidates", "/outages",
                tuple(_alert(i) for i in range(7)), True, True)
    text = attention_html(Attention(Check(NOW, ("blacklist_candidate",)), "Europe/Paris",
                                    (card,), 0))
    assert text.count("<li>") == SHOWN == 5
    assert 'and 2 more on <a href="./alerts">Alerts</a>' in text
    assert "<b>" not in text and "PM P0 &lt;b&gt;" in text
    assert "2025-07-01T08:00:00+02:00 (Europe/Paris)" in text


NOT_CHECKED_LINE = ('<p class="quiet">not checked at the last run (<code>opeval alerts run</code>'
                    ' says why)')


@pytest.mark.parametrize("checked, n, count, end", [
    (True, 0, "0", '<p class="quiet">none open</p>'),
    (False, 0, "?", NOT_CHECKED_LINE + "</p>"),
    (True, 1, "1", "</ul>"),
    (False, 1, "1", "</ul>" + NOT_CHECKED_LINE + ": these come from an earlier run</p>"),
])
def test_a_card_ends_with_what_the_last_run_says_of_its_rule(checked, n, count, end):
    """A card with data ends by case: "none open" when the last run checked the rule and
    it has no alert; "not checked" when the run did not check it ("?", not "0", without
    alerts; with alerts, they come from an earlier run); nothing after the list when the
    run checked the rule and it has alerts."""
    card = Card("blacklist_candidate", "Blacklist candidates", "/outages",
                tuple(_alert(i) for i in range(n)), checked, True)
    text = attention_html(Attention(Check(NOW, ()), "UTC", (card,), 0))
    assert f'<p class="n">{count}</p>' in text
    assert text.endswith(end + "</div></div>")
