"""Checks of one message-log line (evaluation.eintervention.fields): hand-made cases + properties."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.eintervention.fields import (
    DESCRIPTION_MAX,
    Fault,
    describe,
    parse_line,
    parse_timestamp,
)

UTC = dt.datetime


def m1_body(**changes) -> dict:
    body = {"Code_DO": "DO01", "Code_OI": "OI01", "Ref_Interv_DO": "INT-1", "PM": "FI-00001-0001",
            "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0000001", "PTO": "FI-1111-2222"}],
            "Debut_Inter": "2024-01-31T10:00:00Z"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def line(kind="M1", body=None, received_at="2024-01-31T10:00:30Z", **changes) -> str:
    if body is None:
        body = m1_body(**changes)
        if kind == "M3" and "Fin_Inter" not in changes:
            body["Fin_Inter"] = "2024-01-31T11:00:00Z"
    env = {"message": kind, "received_at": received_at, "body": body}
    return json.dumps({k: v for k, v in env.items() if v is not ...})


def faults(text: str) -> list[tuple[int, str]]:
    return [(f.code, f.field) for f in parse_line(1, text).faults]


# ---------------------------------------------------------------- timestamps

@pytest.mark.parametrize("text, expected", [
    ("2024-01-31T10:15:00", UTC(2024, 1, 31, 10, 15)),          # no offset: UTC
    ("2024-01-31 10:15:00", UTC(2024, 1, 31, 10, 15)),
    ("2024-01-31T10:15:00Z", UTC(2024, 1, 31, 10, 15)),
    ("2024-01-31T10:15:00+01:00", UTC(2024, 1, 31, 9, 15)),     # 10:15 at +1 h = 09:15 UTC
    ("2024-01-31T00:15:00+0130", UTC(2024, 1, 30, 22, 45)),     # 00:15 - 1:30 = 22:45 the day before
    ("2024-01-31T10:15:00-05", UTC(2024, 1, 31, 15, 15)),       # 10:15 + 5 h
    ("20240131T101500", UTC(2024, 1, 31, 10, 15)),              # basic form
    ("20240131 10:15:00", UTC(2024, 1, 31, 10, 15)),            # the spec's AAAAMMDD HH:MM:SS
    ("2024-01-31T10:15", UTC(2024, 1, 31, 10, 15)),             # seconds omitted
    ("2024-01-31T10:15:00.250Z", UTC(2024, 1, 31, 10, 15, 0, 250000)),
    ("2024-01-31T10:15:00,1234567", UTC(2024, 1, 31, 10, 15, 0, 123456)),  # cut to microseconds
])
def test_timestamps_accepted(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", [
    "2024-01-31", "31/01/2024 10:15", "2024-02-30T10:00:00", "2024-01-31T24:00:00",
    "2024-01-31T10:60:00", "2024-0131T10:15:00", "2024-01-31T1015:00", "2024-01-31T10:15:00+25:00",
    "0001-01-01T00:30:00+01:00", "", "now", "2024-01-31T10:15:00 Z", "２０２４-01-31T10:15:00",
])
def test_timestamps_rejected(text):
    assert parse_timestamp(text) is None


# ---------------------------------------------------------------- envelope

def test_valid_m1_has_no_fault_and_typed_fields():
    p = parse_line(7, line())
    assert p.faults == [] and p.kind == "M1" and p.line == 7
    assert p.received_at == UTC(2024, 1, 31, 10, 0, 30)
    assert (p.code_do, p.code_oi, p.ref_do, p.pm) == ("DO01", "OI01", "INT-1", "FI-00001-0001")
    assert p.targets == (("racc", "PT0000001", "FI-1111-2222"),)


@pytest.mark.parametrize("text, expected", [
    ("", [(1, "line")]),
    ("   ", [(1, "line")]),
    ('{"message": "M1", ', [(2, "line")]),
    ("[1, 2]", [(2, "line")]),
    ('"M1"', [(2, "line")]),
    ('{"received_at": "2024-01-31T10:00:00", "body": {}}', [(1, "message")]),
    ('{"message": "M2", "received_at": "2024-01-31T10:00:00", "body": {}}', [(2, "message")]),
    ('{"message": 1, "received_at": "2024-01-31T10:00:00", "body": {}}', [(2, "message")]),
    ('{"message": "M5", "received_at": "2024-01-31T10:00:00"}', [(1, "body")]),
    ('{"message": "M5", "received_at": "2024-01-31T10:00:00", "body": [1]}', [(2, "body")]),
])
def test_envelope_faults(text, expected):
    assert faults(text) == expected


def test_pathological_json_is_a_format_fault_not_a_crash():
    deep = parse_line(1, "[" * 100_000 + "]" * 100_000)
    assert [str(f) for f in deep.faults] == ["line: not valid JSON (nested too deeply)"]
    huge = parse_line(1, '{"message": "M1", "n": 1' + "0" * 5000 + "}")
    assert [str(f) for f in huge.faults] == ["line: not valid JSON (number too long)"]


def test_missing_and_bad_received_at():
    assert faults(line(received_at=...)) == [(1, "received_at")]
    assert faults(line(received_at="yesterday")) == [(2, "received_at")]
    assert faults(line(received_at=20240131)) == [(2, "received_at")]


def test_body_wrapped_in_its_schema_name_is_unwrapped():
    wrapped = json.dumps({"message": "M1", "received_at": "2024-01-31T10:00:30Z",
                          "body": {"intervention_DO": m1_body()}})
    assert parse_line(1, wrapped).faults == []


# ---------------------------------------------------------------- M1 / M3 body

@pytest.mark.parametrize("changes, expected", [
    ({"Code_DO": ...}, [(1, "Code_DO")]),
    ({"Code_DO": ""}, [(1, "Code_DO")]),                     # empty string = not filled
    ({"Code_DO": "do01"}, [(2, "Code_DO")]),                 # lower case
    ({"Code_DO": "DO1"}, [(2, "Code_DO")]),                  # 3 chars
    ({"Code_OI": "OI001"}, [(2, "Code_OI")]),                # 5 chars
    ({"Code_OI": 1234}, [(2, "Code_OI")]),                   # not text
    ({"Ref_Interv_DO": "A" * 51}, [(2, "Ref_Interv_DO")]),   # 51 > 50
    ({"Ref_Interv_DO": "int 1"}, [(2, "Ref_Interv_DO")]),
    ({"PM": None}, [(1, "PM")]),
    ({"PM": "FI.0001"}, [(2, "PM")]),
    ({"Debut_Inter": ...}, [(1, "Debut_Inter")]),
    ({"Debut_Inter": "31/01/2024 10:00"}, [(2, "Debut_Inter")]),
    ({"Nature_PBO_PTO": ...}, [(1, "Nature_PBO_PTO")]),
    ({"Nature_PBO_PTO": []}, [(1, "Nature_PBO_PTO")]),      # empty list: decided "not filled"
    ({"Nature_PBO_PTO": {"nature": 1}}, [(2, "Nature_PBO_PTO")]),
    ({"Nature_PBO_PTO": [{"PBO": "PT1"}]}, [(1, "Nature_PBO_PTO[0].nature")]),
    ({"Nature_PBO_PTO": [{"nature": 5}]}, [(2, "Nature_PBO_PTO[0].nature")]),
    ({"Nature_PBO_PTO": [{"nature": "1"}]}, [(2, "Nature_PBO_PTO[0].nature")]),
    ({"Nature_PBO_PTO": [{"nature": True}]}, [(2, "Nature_PBO_PTO[0].nature")]),
    ({"Nature_PBO_PTO": [{"nature": 1}, {"nature": 3}]}, [(2, "Nature_PBO_PTO[1].nature")]),
    ({"Nature_PBO_PTO": [{"nature": 2, "PBO": "P" * 101}]}, [(2, "Nature_PBO_PTO[0].PBO")]),
    ({"Nature_PBO_PTO": [{"nature": 2, "PTO": "P" * 51}]}, [(2, "Nature_PBO_PTO[0].PTO")]),
    ({"Fin_Inter": "2024-01-31T11:00:00Z"}, [(2, "Fin_Inter")]),   # HF in M1
    ({"Fin_Inter": None}, []),                               # null HF in M1 is the rule
])
def test_m1_field_faults(changes, expected):
    assert faults(line("M1", **changes)) == expected


def test_m1_limits_are_inclusive():
    # 50 chars of [0-9A-Z_-] for references, 100 / 50 for PBO / PTO are allowed
    ok = line("M1", Ref_Interv_DO="A_-9" * 12 + "ZZ", PM="P" * 50,
              Nature_PBO_PTO=[{"nature": 4, "PBO": "x" * 100, "PTO": "y" * 50}, {"nature": 4}])
    p = parse_line(1, ok)
    assert p.faults == []
    # the target without PBO/PTO is kept with NULLs, and sorts first; the PTO reference is
    # stored in upper case (a line reference: fi-… and FI-… name one line)
    assert p.targets == (("non_fournie", None, None), ("non_fournie", "x" * 100, "Y" * 50))


def test_target_pto_is_normalised_and_unknown_markers_are_empty():
    """Spec 2.1.3: the PTO of Nature_PBO_PTO is sent "if available". A DO that writes
    ``fi-5555-0001 `` names the line an OC calls ``FI-5555-0001``; ``inconnu`` or
    ``N/A`` is no line at all (stored empty, so it can exclude no cut)."""
    p = parse_line(1, line("M1", Nature_PBO_PTO=[
        {"nature": 1, "PTO": " fi-5555-0001 "}, {"nature": 2, "PTO": "N/A", "PBO": "inconnu"}]))
    assert p.faults == []
    assert p.targets == (("racc", None, "FI-5555-0001"), ("sav", None, None))


def test_m3_rules_for_hf_and_nature_3():
    assert faults(line("M3", Nature_PBO_PTO=[{"nature": 3}])) == []
    assert faults(line("M3", Fin_Inter=...)) == [(1, "Fin_Inter")]
    assert faults(line("M3", Fin_Inter=None)) == [(1, "Fin_Inter")]
    # HD 10:00 UTC, HF 09:59 UTC: end before start
    assert faults(line("M3", Fin_Inter="2024-01-31T09:59:00Z")) == [(2, "Fin_Inter")]
    # HF 10:30+01:00 is 09:30 UTC, before HD 10:00 UTC
    assert faults(line("M3", Fin_Inter="2024-01-31T10:30:00+01:00")) == [(2, "Fin_Inter")]
    # HF equal to HD is allowed
    assert faults(line("M3", Fin_Inter="2024-01-31T10:00:00Z")) == []


# ---------------------------------------------------------------- M5 body

def m5(clients=..., **changes) -> str:
    body = {"Code_OC_impacte": "OC01", "Ref_Interv_OI": "OI01-0123456789ABCDEF"}
    if clients is not ...:
        body["Liste_Clients_HS"] = clients
    body.update(changes)
    return line("M5", body={k: v for k, v in body.items() if v is not ...})


def client(**changes) -> dict:
    c = {"PTO": "FI-1111-0001", "PBO": "PT0000009", "Tube": "3", "Fibre": "7",
         "Position_PM_Module_OI": "M12", "HMS_Coupure": "2024-01-31T10:05:00Z"}
    c.update(changes)
    return {k: v for k, v in c.items() if v is not ...}


def test_m5_without_list_or_with_empty_list_is_valid_with_no_client():
    for text in (m5(), m5(None), m5([])):
        p = parse_line(1, text)
        assert p.faults == [] and p.clients == ()


def test_m5_inconnu_becomes_none_and_duplicates_collapse():
    p = parse_line(1, m5([client(PBO="inconnu", Tube="INCONNU"), client(PBO="inconnu", Tube="Inconnu")]))
    assert p.faults == []
    assert p.clients == (("FI-1111-0001", None, None, "7", "M12", UTC(2024, 1, 31, 10, 5)),)


@pytest.mark.parametrize("text, expected", [
    (m5(Code_OC_impacte=...), [(1, "Code_OC_impacte")]),
    (m5(Code_OC_impacte="oc01"), [(2, "Code_OC_impacte")]),
    (m5(Ref_Interv_OI=""), [(1, "Ref_Interv_OI")]),
    (m5(Ref_Interv_OI="R" * 51), [(2, "Ref_Interv_OI")]),
    (m5({"PTO": "x"}), [(2, "Liste_Clients_HS")]),
])
def test_m5_field_faults(text, expected):
    assert faults(text) == expected


@pytest.mark.parametrize("clients, kept, aside", [
    # Spec 2.1.5: a client counts only if its PTO and its cut time are known. Without
    # either (or with either unreadable) it is set aside, the others are kept.
    ([client(), client(HMS_Coupure=...)], 1, [("Liste_Clients_HS[1].HMS_Coupure",
                                              "HMS_Coupure unknown")]),
    ([client(HMS_Coupure="10:05:00")], 0, [("Liste_Clients_HS[0].HMS_Coupure",
                                            "HMS_Coupure '10:05:00' not an ISO 8601 date-time")]),
    ([client(PTO="inconnu"), client(PTO="FI-2")], 1, [("Liste_Clients_HS[0].PTO",
                                                      "PTO unknown ('inconnu')")]),
    ([client(PTO="", HMS_Coupure=...)], 0, [(
        "Liste_Clients_HS[0].PTO, Liste_Clients_HS[0].HMS_Coupure",
        "PTO unknown; HMS_Coupure unknown")]),
    (["x", client()], 1, [("Liste_Clients_HS[0]", "not an object")]),
    # PBO, Tube, Fibre and Position are not needed to count a client: absent or
    # unusable, they are stored empty and the client is kept.
    ([client(Tube=...)], 1, []),
    ([client(Position_PM_Module_OI="p" * 101)], 1, []),
    ([client(Fibre=7)], 1, []),
])
def test_m5_clients_that_cannot_count_are_set_aside(clients, kept, aside):
    p = parse_line(1, m5(clients))
    assert p.faults == []
    assert len(p.clients) == kept
    assert [(a.field, a.reason) for a in p.set_aside] == aside


def test_m5_unusable_optional_fields_are_noted():
    p = parse_line(1, m5([client(Fibre=7, Tube="t" * 51)]))
    assert p.clients == (("FI-1111-0001", "PT0000009", None, None, "M12", UTC(2024, 1, 31, 10, 5)),)
    assert p.notes == ["Liste_Clients_HS[0]: 2 unusable field(s) stored as unknown"]


# ---------------------------------------------------------------- description

def test_description_takes_the_lowest_code_and_names_its_fields():
    # Code_DO missing (1) and Code_OI badly formatted (2): answer 1, naming only Code_DO
    p = parse_line(1, line(Code_DO=..., Code_OI="x"))
    assert describe(p.faults) == (1, "Code_DO: missing")


def test_description_fits_in_100_chars():
    many = [Fault(1, f"Field_{i:02d}", "missing") for i in range(12)]
    code, text = describe(many)
    # each item "Field_NN: missing" is 17 chars, joined by "; " (2). Four items take
    # 4*17 + 3*2 = 74 chars; a fifth (+19) with its tail " (+7 more)" (+10) would make
    # 103 > 100, so four are shown and the other 8 counted: 74 + len(" (+8 more)") = 84.
    assert code == 1
    assert text == "; ".join(f"Field_{i:02d}: missing" for i in range(4)) + " (+8 more)"
    assert len(text) == 84
    long = describe([Fault(2, "X", "y" * 300)])[1]
    assert len(long) == DESCRIPTION_MAX and long.endswith("…")


# ---------------------------------------------------------------- properties

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12)
FIELD_NAMES = ["Code_DO", "Code_OI", "Ref_Interv_DO", "PM", "Nature_PBO_PTO", "Debut_Inter",
               "Fin_Inter", "Code_OC_impacte", "Ref_Interv_OI", "Liste_Clients_HS"]


@st.composite
def mutated(draw) -> str:
    """A valid M1/M3/M5 with one field dropped, replaced by arbitrary JSON, or a string cut."""
    kind = draw(st.sampled_from(["M1", "M3", "M5"]))
    if kind == "M5":
        env = json.loads(m5([client(), client(PTO="FI-2")]))
    else:
        env = json.loads(line(kind))
    target = draw(st.sampled_from(["envelope", "body", "item"]))
    obj = env if target == "envelope" else env["body"]
    if target == "item":
        items = obj.get("Nature_PBO_PTO") or obj.get("Liste_Clients_HS")
        obj = items[0]
    key = draw(st.sampled_from(sorted(obj)))
    action = draw(st.sampled_from(["drop", "replace", "cut"]))
    if action == "drop":
        del obj[key]
    elif action == "replace":
        obj[key] = draw(JSON)
    elif isinstance(obj[key], str):
        obj[key] = obj[key][:draw(st.integers(0, len(obj[key])))]
    return json.dumps(env)


LINES = st.one_of(st.text(max_size=60), JSON.map(json.dumps), mutated())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_any_line_is_checked_without_raising(text):
    p = parse_line(3, text)
    assert p.line == 3
    assert all(f.code in (1, 2) for f in p.faults)
    if p.faults:
        code, description = describe(p.faults)
        assert code in (1, 2) and 0 < len(description) <= DESCRIPTION_MAX
    else:
        assert p.kind in ("M1", "M3", "M5") and p.received_at is not None


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=UTC(1000, 1, 1), max_value=UTC(9000, 1, 1)),
       st.integers(-23 * 60, 23 * 60), st.booleans())
def test_timestamp_round_trip(when, offset_min, basic):
    tz = dt.timezone(dt.timedelta(minutes=offset_min))
    local = when.replace(tzinfo=dt.UTC).astimezone(tz)
    text = local.strftime("%Y%m%dT%H%M%S.%f%z" if basic else "%Y-%m-%dT%H:%M:%S.%f%z")
    if not basic:
        text = text[:-2] + ":" + text[-2:]
    assert parse_timestamp(text) == when
