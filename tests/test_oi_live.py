"""The live endpoint end to end: the simulator replays the small demo's messages, the
store equals `opeval ingest messages` on the same log, the OCs' stubs get their M2/M4
(one fails twice, then accepts), and a `kill -9` loses no answered message.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from tests import _oi_proc as oi

from evaluation.eintervention import journal
from evaluation.eintervention.partners import add

pytestmark = pytest.mark.slow

TABLES = {"interventions": "*", "intervention_targets": "*", "outage_reports": "*",
          "outages": "*",
          "messages": "line, message, received_at, code_do, ref_interv_do, code_oc, "
                      "ref_interv_oi, code_reponse, libelle_reponse, description_reponse, "
                      "effect, body",
          "quarantine": "line, columns, reason, raw"}
WITHOUT_TIMES = {"interventions": "ref_interv_oi, ref_interv_do, code_do, code_oi, pm_id, "
                                  "started_at, ended_at",
                 "intervention_targets": "*", "outages": "*",
                 "outage_reports": "ref_interv_oi, code_oc, clients_hs, clients_set_aside"}
DELAYS = "0.3,0.3,0.5,1,2"
RESTART_DELAYS = "0.5,1,2,5,10"   # 18.5 s: a restart on a loaded machine takes seconds


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The small demo's files (messages.ndjson, pms.csv)."""
    root = tmp_path_factory.mktemp("demo")
    r = oi.cli(root / "demo.duckdb", "demo", "--scale", "small", "--out", str(root / "files"))
    assert r.returncode == 0, r.stderr
    return root / "files"


def fresh_store(path: Path, demo: Path) -> Path:
    assert oi.cli(path, "ingest", "pms", str(demo / "pms.csv")).returncode == 0
    assert oi.cli(path, "config", "oi_codes", "ALTF,NEOI").returncode == 0
    return path


def partners(db: Path, log: Path, tokens_file: Path) -> None:
    """A token for every valid DO and OC code of the log (an invalid code, 'xFIBX', has none:
    its lines are not sendable), written as CODE=TOKEN lines (made in this process: the
    command is tested in test_oi_endpoint)."""
    senders: dict[str, str] = {}
    for text in log.read_text().splitlines():
        obj = json.loads(text)
        body = obj.get("body") or {}
        if obj["message"] == "M5":
            senders[body["Code_OC_impacte"]] = "oc"
        elif len(body.get("Code_DO", "")) == 4:
            senders[body["Code_DO"]] = "do"
    con = journal.connect(db)
    tokens = {c: add(con, c, role, rate=2000, burst=2000) for c, role in senders.items()}
    con.close()
    tokens_file.write_text("".join(f"{c}={t}\n" for c, t in tokens.items()))


def simulate(ep: oi.Endpoint, log: Path, tokens: Path, answers: Path, *extra: str,
             background: bool = False):
    args = [sys.executable, "-m", "evaluation.cli", "oi", "simulate", str(log), "--url", ep.url,
            "--tokens", str(tokens), "--answers", str(answers), "--retry-delays", DELAYS,
            *extra]
    if background:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = subprocess.run(args, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def rows(db: Path, table: str, cols: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").fetchall()
    finally:
        con.close()


def wait_deliveries(db: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        con = journal.read_only(db)
        counts = journal.delivery_counts(con)
        con.close()
        if counts["pending"] == 0 or time.monotonic() > deadline:
            return counts
        time.sleep(0.3)


def test_replay_equals_ingest_and_reaches_the_ocs(demo, tmp_path):
    """The demo log (9 543 lines) replayed at up to 400 messages/s by 8 senders.

    1. The store equals, table for table, the store `opeval ingest messages` makes from
       the log the endpoint received (`opeval oi log`): interventions, targets, reports,
       outages, messages with their answers, quarantine.
    2. It equals, but for the reception times, the store made from the demo log itself
       (the lines sent, each labelled as the wire carries it: an M3 is the body with
       Fin_Inter) — the replay's timing and interleaving change nothing.
    3. Flow 2: OCAA (every PM) got one M2 per M1 that created or changed an intervention
       and one M4 per such M3 (spec 2.1.4), an M1 after its M3 nothing (chapter 4); BLEU
       (two PMs) failed its first two requests (503) and got its M2/M4 by the retries;
       every body validates against the OpenAPI ``intervention_OI`` schema and carries no
       DO code, DO reference nor PTO (flow 2 is anonymised).
    """
    log = demo / "messages.ndjson"
    db = fresh_store(tmp_path / "live.duckdb", demo)
    tokens = tmp_path / "tokens.txt"
    partners(db, log, tokens)
    every, two = oi.OCStub(), oi.OCStub(fail=2)
    bleu_pms = ["FI-35238-0001", "FI-44109-0001"]
    (tmp_path / "ocs.toml").write_text(
        f'[[oc]]\ncode = "OCAA"\nurl = "{every.url}"\n\n'
        f'[[oc]]\ncode = "BLEU"\nurl = "{two.url}"\npms = {json.dumps(bleu_pms)}\n')
    ep = oi.start(db, "--ocs", str(tmp_path / "ocs.toml"), "--apply-every", "0.5",
                  "--retry-delays", DELAYS)
    try:
        out = simulate(ep, log, tokens, tmp_path / "answers.ndjson", "--rate", "400",
                       "--concurrency", "8")
        assert "given up 0" in out and "no token 2" in out, out
        ep.wait_applied()
        counts = wait_deliveries(db)
    finally:
        ep.stop()
        every.close()
        two.close()
    assert counts["pending"] == counts["failed"] == counts["rejected"] == 0, counts

    received = tmp_path / "received.ndjson"
    assert oi.cli(db, "oi", "log", "--out", str(received)).returncode == 0
    ref = fresh_store(tmp_path / "ref.duckdb", demo)
    r = oi.cli(ref, "ingest", "messages", str(received))
    assert r.returncode == 0, r.stderr
    for table, cols in TABLES.items():
        assert rows(db, table, cols) == rows(ref, table, cols), table

    sent = {a["line"] for a in map(json.loads, (tmp_path / "answers.ndjson").open())}
    relabelled = tmp_path / "sent.ndjson"
    with relabelled.open("w") as fh:
        for number, text in enumerate(log.read_text().splitlines(), start=1):
            if number in sent:
                obj = json.loads(text)
                if obj["message"] != "M5":
                    obj["message"] = "M1" if obj["body"].get("Fin_Inter") in (None, "") else "M3"
                fh.write(json.dumps(obj) + "\n")
    orig = fresh_store(tmp_path / "orig.duckdb", demo)
    assert oi.cli(orig, "ingest", "messages", str(relabelled)).returncode == 0
    for table, cols in WITHOUT_TIMES.items():
        assert rows(db, table, cols) == rows(orig, table, cols), table

    expected: Counter = Counter()
    bleu: Counter = Counter()
    for kind, desc, effect, body in rows(db, "messages", "message, description_reponse, "
                                         "effect, body"):
        if kind == "M5" or effect not in ("inserted", "updated") or desc.startswith("M1 after"):
            continue
        pm = json.loads(body)["body"]["PM"]
        flow = "M2" if kind == "M1" else "M4"
        expected[flow] += 1
        if pm in bleu_pms:
            bleu[flow] += 1
    got = Counter("M4" if "Fin_Inter" in b else "M2" for b in every.received)
    assert got == expected and sum(expected.values()) > 3000
    assert Counter("M4" if "Fin_Inter" in b else "M2" for b in two.received) == bleu
    assert two.attempts >= len(two.received) + 2 and all(b["PM"] in bleu_pms
                                                         for b in two.received)
    assert all(h["Idempotency-Key"].startswith("oi-") for h in every.headers + two.headers)
    validator = oi.validator("intervention_OI")
    for body in every.received + two.received:
        validator.validate(body)
        assert not {"Code_DO", "Ref_Interv_DO"} & body.keys() and "PTO" not in json.dumps(body)


def _journaled(db: Path) -> int:
    """Lines in the endpoint's journal (0 before it exists)."""
    con = journal.read_only(db)
    if con is None:
        return 0
    try:
        return con.execute("SELECT count(*) FROM inbox").fetchone()[0]
    finally:
        con.close()


def test_kill_9_loses_no_answered_message(demo, tmp_path):
    """`kill -9` of the endpoint in the middle of a replay (3 000 lines at 300/s, killed
    once 300 are journaled), then a restart on the same port: every line answered with
    code 0 before or after is in the store's ``messages`` (the journal had it before the
    answer; the restart applied it), the simulator's retries got every line answered,
    and no line is stored twice except
    the re-sent ones the endpoint had answered before the kill (answered again as
    duplicates)."""
    log = tmp_path / "part.ndjson"
    log.write_text("\n".join((demo / "messages.ndjson").read_text().splitlines()[:3000]) + "\n")
    db = fresh_store(tmp_path / "kill.duckdb", demo)
    tokens = tmp_path / "tokens.txt"
    partners(db, log, tokens)
    ep = oi.start(db, "--apply-every", "0.5")
    sim = simulate(ep, log, tokens, tmp_path / "answers.ndjson", "--rate", "300",
                   "--concurrency", "4", "--retry-delays", RESTART_DELAYS, background=True)
    try:
        # In the middle of the replay: once 300 lines are journaled (the simulator's start
        # takes seconds on a loaded machine, so no fixed delay).
        deadline = time.monotonic() + 120
        while _journaled(db) < 300:
            assert time.monotonic() < deadline and sim.poll() is None
            time.sleep(0.05)
        ep.proc.kill()                       # SIGKILL: no cleanup, no last apply
        ep.proc.wait()
        assert 300 <= _journaled(db) < 3000
        time.sleep(1)
        ep = oi.start(db, "--apply-every", "0.5", port=ep.port)
        out, err = sim.communicate(timeout=300)
        assert sim.returncode == 0, err
        assert "given up 0" in out, out
        ep.wait_applied()
    finally:
        if sim.poll() is None:
            sim.kill()
        ep.stop()
    answers = [json.loads(x) for x in (tmp_path / "answers.ndjson").open()]
    lines = log.read_text().splitlines()
    ok = Counter(json.dumps(json.loads(lines[a["line"] - 1])["body"], sort_keys=True)
                 for a in answers if a.get("Code_Reponse") == 0)
    stored = Counter(json.dumps(json.loads(b)["body"], sort_keys=True)
                     for (b,) in rows(db, "messages", "body"))
    missing = ok - stored
    assert not missing, f"{sum(missing.values())} answered message(s) not in the store"
    assert sum(a["attempts"] > 1 for a in answers) > 0      # the kill made senders retry
    assert len(answers) == sum(1 for x in lines if '"xFIBX"' not in x)


def _headline(doc: str) -> tuple[int, int, int] | None:
    """/outages' headline: interventions, covered (with an M5), impacted; None without data."""
    m = re.search(r"(\d+) interventions, (\d+) covered \(with an M5\), (\d+) impacted", doc)
    return tuple(map(int, m.groups())) if m else None


def test_the_dashboards_see_it_live(tmp_path):
    """Issue 18 item 4: new interventions and cuts appear in /outages and /data within
    seconds, while the endpoint keeps answering. `opeval serve` and `opeval oi serve`
    (flow 2 to a stub OC) run on the same database; nothing is loaded by hand.

    Worked out by hand, per round k = 1, 2: DO TECA posts M1 then M3 for intervention
    LIVE-k at PM FI-35238-000k (window 08:00–09:00 on 2025-03-0k), and OC OCAA posts an M5
    with one client cut at 08:30 (inside the window). After round k, /outages' headline
    reads "k + 1 interventions, k covered (with an M5), k impacted" (BUSY's below; an M5
    covers an intervention, a cut in its window makes it impacted) and /data's flow-2
    section lists OCAA's M2 and M4 as delivered (one of each per round: M1 created the
    intervention, M3 ended it). Before
    round 1, /outages says there is no data and /data that there are no deliveries.
    Each round's lines must be in the store (the endpoint's applied mark) and its M2/M4
    delivered within 5 s of the last answer; then the first /outages and /data pulled
    (as a browser gets them) must show the round. How long a page takes to build is the
    dashboards' matter (seconds on an idle machine, tens under load): printed, not
    asserted. Meanwhile DO BUSY keeps re-sending one M1 (PM
    FI-35238-0003, no M5): the first creates one more intervention, the others are
    duplicates; every one is answered 200 within 2 s.
    """
    from tests._serve_proc import Client, pull_document
    from tests._serve_proc import start as serve_dashboards

    db = tmp_path / "live.duckdb"
    (tmp_path / "pms.csv").write_text(
        "pm_id,oi_code,lines,zone\nFI-35238-0001,ALTF,10,Rennes\nFI-35238-0002,ALTF,10,Rennes\n"
        "FI-35238-0003,ALTF,10,Rennes\n")
    assert oi.cli(db, "ingest", "pms", str(tmp_path / "pms.csv")).returncode == 0
    assert oi.cli(db, "config", "oi_codes", "ALTF").returncode == 0
    con = journal.connect(db)
    tokens = {c: add(con, c, role, rate=1000, burst=1000)
              for c, role in (("TECA", "do"), ("BUSY", "do"), ("OCAA", "oc"))}
    con.close()
    stub = oi.OCStub()
    (tmp_path / "ocs.toml").write_text(f'[[oc]]\ncode = "OCAA"\nurl = "{stub.url}"\n')
    ep = oi.start(db, "--ocs", str(tmp_path / "ocs.toml"), "--apply-every", "0.5")
    dash = serve_dashboards(db)
    busy: list[tuple[int, float]] = []
    halt = threading.Event()

    def keep_posting() -> None:
        i = 0
        while not halt.is_set():
            i += 1
            t0 = time.monotonic()
            status, _, _ = oi.post(f"{ep.url}/intervention_DO", {
                "Code_DO": "BUSY", "Code_OI": "ALTF", "Ref_Interv_DO": "B-1",
                "PM": "FI-35238-0003", "Debut_Inter": "2025-03-01T10:00:00Z",
                "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT9"}]}, tokens["BUSY"])
            busy.append((status, time.monotonic() - t0))
            time.sleep(0.05)

    def page(path: str) -> str:
        return pull_document(dash.url, path, Client(dash.url).request(path)[2])

    def in_the_store_within(seconds: float = 5) -> float:
        """Until the store holds every line TECA and OCAA sent (the endpoint's applied mark
        reaches the journal's last line of theirs) and flow 2 has nothing pending."""
        con = journal.read_only(db)
        last = con.execute("SELECT max(seq) FROM inbox WHERE partner IN ('TECA', 'OCAA')"
                           ).fetchone()[0]
        con.close()
        t0 = time.monotonic()
        while ep.health()["applied_seq"] < last or wait_deliveries(db, 0)["pending"]:
            assert time.monotonic() - t0 < seconds
            time.sleep(0.05)
        return time.monotonic() - t0

    poster = threading.Thread(target=keep_posting, daemon=True)
    try:
        assert "No interventions or cuts in this database yet" in page("/outages")
        assert "No M2/M4 deliveries" in page("/data")
        poster.start()
        waits, builds = [], []
        for k in (1, 2):
            day = f"2025-03-0{k}"
            m1 = {"Code_DO": "TECA", "Code_OI": "ALTF", "Ref_Interv_DO": f"LIVE-{k}",
                  "PM": f"FI-35238-000{k}", "Debut_Inter": f"{day}T08:00:00Z",
                  "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT1", "PTO": "FI-1000-0001"}]}
            status, r1, _ = oi.post(f"{ep.url}/intervention_DO", m1, tokens["TECA"])
            assert status == 200 and r1["Code_Reponse"] == 0
            status, _, _ = oi.post(f"{ep.url}/intervention_DO",
                                   dict(m1, Fin_Inter=f"{day}T09:00:00Z"), tokens["TECA"])
            assert status == 200
            status, r5, _ = oi.post(f"{ep.url}/client_HS_OC_Par_Inter", {
                "Code_OC_impacte": "OCAA", "Ref_Interv_OI": r1["Ref_Interv_OI"],
                "Liste_Clients_HS": [{"PTO": f"FI-2000-000{k}",
                                      "HMS_Coupure": f"{day}T08:30:00Z"}]}, tokens["OCAA"])
            assert status == 200 and r5["Code_Reponse"] == 0
            waits.append(in_the_store_within())
            t0 = time.monotonic()
            assert _headline(page("/outages")) == (k + 1, k, k)
            doc = page("/data")
            assert all(w in doc for w in ("OCAA", "M2", "M4", "delivered"))
            builds.append(time.monotonic() - t0)
    finally:
        halt.set()
        if poster.is_alive():
            poster.join(30)
        dash.stop()
        ep.stop()
        stub.close()
    # TECA's two M1 and two M3, and BUSY's first M1 (OCAA is present at every PM).
    assert sorted((m["PM"], "Fin_Inter" in m) for m in stub.received) == [
        ("FI-35238-0001", False), ("FI-35238-0001", True), ("FI-35238-0002", False),
        ("FI-35238-0002", True), ("FI-35238-0003", False)]
    assert busy and all(s == 200 for s, _ in busy), Counter(s for s, _ in busy)
    assert max(t for _, t in busy) < 2.0, max(t for _, t in busy)
    print(f"in the store after {', '.join(f'{w:.1f}' for w in waits)} s; /outages and /data "
          f"built in {', '.join(f'{b:.1f}' for b in builds)} s; {len(busy)} M1s answered "
          f"meanwhile, slowest {max(t for _, t in busy) * 1000:.0f} ms")
