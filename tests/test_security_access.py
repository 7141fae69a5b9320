"""Access control: users file, roles, scoped tables, and what each role's pages receive.

The database (tests/_security_db.py) holds rows planted for each role NOT to see.
Pages are built in-process exactly as ``opeval serve --auth`` builds them for a
logged-in principal; the whole Bokeh document (what the websocket sends) and
every CSV download of the page are searched for the planted strings.
The live server (login form, cookies, 403, websocket) is in
tests/test_security_server.py.
"""
from __future__ import annotations

import json
import os
import stat

import duckdb
import pytest

import _security_db
from evaluation.auth import credentials, scope
from evaluation.auth.roles import PAGE_ACCESS, ROLES, Principal
from evaluation.auth.server import Access
from evaluation.errors import OpevalError
from evaluation.store import privacy
from evaluation.store.engine import open_tables
from evaluation.views.pages import PAGES

KEY = bytes.fromhex("ab" * 32)
PRINCIPALS = {
    "oc": Principal("oc1", "oc", oc="OC01"),
    "alarm_operator": Principal("op", "alarm_operator", systems=("S1",)),
    "analyst": Principal("an", "analyst"),
    "network_operator": Principal("net", "network_operator"),
    "risk_manager": Principal("risk", "risk_manager"),
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("sec")
    return _security_db.build(root / "db.duckdb", root / "in")


@pytest.fixture(scope="module")
def stores(planted):
    s = scope.ScopedStores(planted)
    yield s
    s.close()


# ------------------------------------------------------------------ users file


def test_users_file_keeps_only_salted_hashes(tmp_path):
    users = credentials.Users(tmp_path / "u.json")
    users.add("alice", "oc", "correct horse", oc="OC01")
    users.add("bob", "analyst", "correct horse")
    users.save()
    text = (tmp_path / "u.json").read_text()
    assert "correct horse" not in text
    entries = json.loads(text)["users"]
    # Same password, different salts -> different hashes.
    assert entries["alice"]["password"] != entries["bob"]["password"]
    assert entries["alice"]["password"].startswith("scrypt$16384$8$1$")
    assert stat.S_IMODE(os.stat(tmp_path / "u.json").st_mode) == 0o600
    again = credentials.Users.load(tmp_path / "u.json")
    assert again.verify("alice", "correct horse") == Principal("alice", "oc", (), "OC01")
    assert again.verify("alice", "correct horsE") is None
    assert again.verify("nobody", "correct horse") is None


def test_password_check_rejects_tampered_or_foreign_hashes():
    stored = credentials.hash_password("s3cret")
    assert credentials.check_password("s3cret", stored)
    assert not credentials.check_password("s3cret", stored.replace("scrypt", "plain"))
    assert not credentials.check_password("s3cret", "s3cret")        # a plain text entry
    assert not credentials.check_password("s3cret", None)             # OAuth-only user
    assert not credentials.check_password("s3cret", "scrypt$1$8$1$zz$00")


@pytest.mark.parametrize("args, message", [
    (("x", "oc", None), "role oc needs --oc"),
    (("x", "oc", None, (), "oc1"), "role oc needs --oc"),
    (("x", "analyst", None, ("S1",)), "--systems applies to role alarm_operator"),
    (("x", "risk_manager", None, (), "OC01"), "--oc applies to role oc only"),
    (("x", "boss", None), "unknown role"),
])
def test_bad_user_entries_are_refused(tmp_path, args, message):
    with pytest.raises(OpevalError, match=message):
        credentials.Users(tmp_path / "u.json").add(*args)


def test_users_cli_add_list_remove(run_cli, tmp_path, monkeypatch):
    f = tmp_path / "users.json"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("sesame-one-47\n"))
    code, out, err = run_cli("users", "--users", str(f), "add", "alice", "--role", "alarm_operator",
                             "--systems", "S1,S2", "--password-stdin")
    assert code == 0, err
    assert "sesame-one-47" not in f.read_text()
    code, out, _ = run_cli("users", "--users", str(f), "add", "ext@corp", "--role", "oc",
                           "--oc", "oc01", "--no-password")
    assert code == 0
    code, out, _ = run_cli("users", "--users", str(f), "list")
    assert "alice\talarm_operator systems=S1,S2\tpassword" in out
    assert "ext@corp\toc oc=OC01\toauth only" in out
    assert "scrypt" not in out
    assert run_cli("users", "--users", str(f), "remove", "alice")[0] == 0
    code, _, err = run_cli("users", "--users", str(f), "remove", "alice")
    assert code == 1 and "no user 'alice'" in err
    code, _, err = run_cli("users", "--users", str(f), "add", "z", "--role", "oc", "--no-password")
    assert code == 1 and "role oc needs --oc" in err


# ------------------------------------------------------------------ scoped tables


def _rows(tables, name):
    return sorted(tables[name].execute().astype(str).itertuples(index=False, name=None))


def test_scoped_tables_per_role(planted):
    base = open_tables(planted)
    oc = scope.scoped_tables(base, PRINCIPALS["oc"], KEY)
    # OC01 sees its one cut and its M5, PM1 only (PM2 has OC02 alone), the intervention at
    # PM1 with the DO code as its keyed pseudonym and no DO reference, no targets, no systems.
    assert [r[2] for r in _rows(oc, "outages")] == ["FI-OC1-LINE"]
    assert [r[1] for r in _rows(oc, "outage_reports")] == ["OC01"]
    assert [r[0] for r in _rows(oc, "pms")] == ["PM1"]
    iv = oc["interventions"].execute()
    assert iv["ref_interv_oi"].tolist() == ["I1"]
    assert iv["code_do"].tolist() == [privacy.pseudonym("DOXA", KEY, "DO")]
    assert iv["ref_interv_do"].isna().all()
    for name in ("intervention_targets", "systems", "devices", "faults", "alarms"):
        assert oc[name].count().execute() == 0, name

    op = scope.scoped_tables(base, PRINCIPALS["alarm_operator"], KEY)
    assert [r[0] for r in _rows(op, "alarms")] == ["A1", "A2"]         # A3 belongs to S2
    assert [r[0] for r in _rows(op, "systems")] == ["S1"]
    assert [r[0] for r in _rows(op, "faults")] == ["F1"]
    assert op["outages"].count().execute() == 0

    an = scope.scoped_tables(base, PRINCIPALS["analyst"], KEY)
    ptos = sorted(an["outages"].execute()["pto"])
    assert ptos == sorted(privacy.pseudonym(p, KEY, "PTO")
                          for p in ("FI-OC1-LINE", "FI-OC2-PM1-LEAK", "FI-OC2-LEAK"))
    assert an["intervention_targets"].execute()["pto"].tolist() == [
        privacy.pseudonym("FI-TARGET-SECRET", KEY, "PTO")]
    assert an["messages"].count().execute() == 0

    admin = scope.scoped_tables(base, Principal("root", "admin"))
    assert admin is base


def test_scoped_tables_feed_an_analysis_unchanged(planted):
    """An analysis run on an OC's tables only counts that OC's cuts."""
    from evaluation.analyses.outages import correlation as c  # noqa: F401 (import proves the layer)

    base = open_tables(planted)
    oc = scope.scoped_tables(base, PRINCIPALS["oc"], KEY)
    t = oc["outages"]
    by_oc = t.group_by("code_oc").aggregate(n=t.count()).execute()
    assert by_oc.to_dict("records") == [{"code_oc": "OC01", "n": 1}]


@pytest.mark.parametrize("role", sorted(PRINCIPALS))
def test_scoped_database_holds_nothing_outside_the_role(stores, role):
    path = stores.path_for(PRINCIPALS[role])
    con = duckdb.connect(path, read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()]
        dump = "\n".join(str(con.execute(f'SELECT * FROM "{n}"').fetchall()) for n in names)
    finally:
        con.close()
    for secret in _security_db.FORBIDDEN[role]:
        assert secret not in dump, (role, secret)
    assert "pseudonym_key" not in dump and "ab" * 32 not in dump


def test_scoped_database_follows_new_loads(stores, planted, tmp_path):
    who = PRINCIPALS["oc"]
    first = stores.path_for(who)
    assert stores.path_for(who) == first                       # cached while the store is unchanged
    con = duckdb.connect(str(planted))
    con.execute("INSERT INTO outages (code_oc, pm_id, pto, cut_at) VALUES "
                "('OC01', 'PM1', 'FI-OC1-NEW', TIMESTAMP '2024-03-07 10:00'), "
                "('OC02', 'PM1', 'FI-OC2-NEW-LEAK', TIMESTAMP '2024-03-07 10:00')")
    con.close()
    second = stores.path_for(who)
    assert second != first
    con = duckdb.connect(second, read_only=True)
    ptos = sorted(r[0] for r in con.execute("SELECT pto FROM outages").fetchall())
    con.close()
    assert ptos == ["FI-OC1-LINE", "FI-OC1-NEW"]
    con = duckdb.connect(str(planted))
    con.execute("DELETE FROM outages WHERE pto LIKE '%NEW%'")
    con.close()


# ------------------------------------------------------------------ pages of each role


class FixedAccess(Access):
    """The server's Access with the logged-in principal fixed (no cookie needed in-process)."""

    def __init__(self, path, who, scopes):
        super().__init__(path, "none", scopes=scopes)
        self.who = who

    def current(self):
        return self.who

    def close(self):  # the module's ScopedStores is closed by its fixture
        pass


def _served(template) -> tuple[str, dict[str, bytes]]:
    """(the Bokeh document as JSON — what the websocket carries, {download name: bytes});
    a PDF download is given as its text (its streams are compressed), so that a secret in
    it is found like one in a CSV."""
    import panel as pn
    from bokeh.document import Document

    from conftest import pdf_text

    doc = Document()
    template.server_doc(doc)
    text = json.dumps(doc.to_json(), default=str)
    downloads = {}
    for item in template.main:
        for fd in pn.panel(item).select(pn.widgets.FileDownload):
            data = fd.callback().getvalue()
            if fd.filename.endswith(".pdf"):
                assert data.startswith(b"%PDF-"), fd.filename
                data = pdf_text(data).encode()
            downloads[fd.filename] = data
    return text, downloads


# The pages each role opens; every one is built and searched (the admin sees everything by design).
CASES = [(role, path) for role in sorted(PRINCIPALS) for path in sorted(PAGE_ACCESS[role])]


@pytest.mark.parametrize("role, path", CASES)
def test_pages_and_downloads_leak_nothing(stores, planted, role, path):
    from evaluation import serve

    who = PRINCIPALS[role]
    template = serve.build_page(path, planted, FixedAccess(planted, who, stores))
    text, downloads = _served(template)
    assert "not allowed to open this page" not in text
    for secret in _security_db.FORBIDDEN[role]:
        assert secret not in text, (role, path, secret)
        for name, data in downloads.items():
            assert secret.encode() not in data, (role, path, name, secret)
    # The navigation lists exactly the pages of the role.
    shown = {p for p in PAGES if f"data-path=&quot;{p}&quot;" in text}
    assert shown == set(PAGE_ACCESS[role]) & set(PAGES)
    # Positive controls: the page did get the role's own data.
    if role == "oc" and path == "/outages":
        assert privacy.pseudonym("DOXA", KEY, "DO").encode() in downloads["dos.csv"]
    if role == "alarm_operator" and path == "/":
        assert b'"alarms",2,' in downloads["tables.csv"]        # A1, A2 of S1; not A3


@pytest.mark.parametrize("role", sorted(PRINCIPALS))
def test_forbidden_pages_show_nothing(stores, planted, role):
    from evaluation import serve

    who = PRINCIPALS[role]
    for path in set(PAGES) - set(PAGE_ACCESS[role]):
        text, downloads = _served(serve.build_page(path, planted, FixedAccess(planted, who, stores)))
        assert "not allowed to open this page (403)" in text
        assert downloads == {}


def test_every_role_is_covered():
    assert set(PAGE_ACCESS) == set(ROLES)
    assert set(PRINCIPALS) | {"admin"} == set(ROLES)
    assert set(_security_db.FORBIDDEN) == set(PRINCIPALS)
