"""The data contract as data: every input table, its columns, types and rules.

One declaration drives the DuckDB DDL (:mod:`evaluation.store.db`), the
column-level validation of the loader (:mod:`evaluation.store.ingest`) and the
contract document (``docs/data-contract.md``, checked by a test). The tables and
columns are those of the outer contract; the enumerations and defaults come
from DB33/T 830-2011 (appendix B, 5.1.1, 5.1.2) and the e-Intervention lot 1
specification (messages M1/M3/M5).
"""
from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 3

SUBSYSTEMS = (
    "intrusion_alarm", "video_surveillance", "access_control", "patrol", "parking",
    "intercom", "network", "platform", "control_room", "cabling", "other",
)
REPAIR_MODES = ("onsite", "mail_in", "phone", "remote")          # 5.4 / B.2
REPAIR_CLASSES = ("hardware", "software")                         # 5.4.3
MAINTENANCE_KINDS = ("periodic", "per_call", "resident")         # 5.3.2
ALARM_STATUSES = ("new", "in_progress", "escalated", "closed", "expired")
CLOSE_REASONS = ("handled", "false_alarm", "other")
NATURES = ("racc", "sav", "aucune_action", "non_fournie")         # Nature_PBO_PTO 1..4
# outages.cause: "power" (a dying gasp, spec 2.1.5) and the wider exclusions listed in
# the spec's §6 evolutions (DERCO, a line overwritten, an ONT being swapped, a customer
# moving) exclude a cut from the count; "other" is a cause that does not.
EXCLUDING_CAUSES = ("power", "derco", "line_overwrite", "ont_swap", "customer_move")
CUT_CAUSES = (*EXCLUDING_CAUSES, "other")
TARGET_SOURCES = ("m1", "m3")                                      # message that declared a line
# What an OC or a DO writes for a value it does not have (spec 2.1.5: "inconnu"), compared
# after trimming, in any letter case. An empty text is unknown too.
UNKNOWN_MARKERS = ("inconnu", "inconnue", "unknown", "n/a", "na", "null", "none", "-", "?")

OPERATOR_CODE = r"^[0-9A-Z]{4}$"          # Code_OI / Code_DO / Code_OC: 4 chars [0-9A-Z]


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``type`` is the DuckDB type; ``required`` rejects empty values; ``enum`` the
    allowed lower-case words; ``min``/``max`` an inclusive numeric range;
    ``pattern`` a regular expression the text must match; ``ref`` a
    ``table.column`` the value must exist in; ``default`` fills empty values;
    ``reference`` normalises a line reference (:func:`normalise_reference`).
    """

    name: str
    type: str = "VARCHAR"
    required: bool = False
    enum: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    ref: str | None = None
    default: object | None = None
    doc: str = ""
    reference: bool = False
    """A line reference (PTO): stored trimmed and upper-cased, an unknown marker
    (:data:`UNKNOWN_MARKERS`) stored as empty, so that references sent by different
    operators compare equal (:func:`normalise_reference`)."""

    def __post_init__(self) -> None:
        if (self.min is None) != (self.max is None):
            raise ValueError(f"{self.name}: a range needs both min and max")


@dataclass(frozen=True)
class Check:
    """A rule across columns of one row: ``sql`` is true when the row is wrong."""

    columns: tuple[str, ...]
    sql: str
    reason: str


@dataclass(frozen=True)
class Table:
    """An input table: columns, natural key, cross-column checks.

    ``key`` identifies a row for idempotent re-loads. ``primary_key`` is true when
    every key column is required, so DuckDB enforces it as PRIMARY KEY; otherwise
    the loader enforces the key (null-safe) itself.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    doc: str = ""
    same_owner: tuple[tuple[str, str, str], ...] = field(default=())
    """(column, referenced table, column that must agree): e.g. a fault's device
    must belong to the fault's system."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def primary_key(self) -> bool:
        by_name = {c.name: c for c in self.columns}
        return all(by_name[k].required for k in self.key)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = Column
TS = "TIMESTAMP"  # stored as UTC without offset; inputs without offset are UTC

TABLES: dict[str, Table] = {t.name: t for t in (
    Table("systems", (
        C("system_id", required=True, doc="Identifier of the security system."),
        C("name"), C("site"),
        C("risk_level", "INTEGER", min=1, max=3, doc="Protection risk level, 1 highest."),
        C("accepted_on", "DATE", doc="Acceptance date; the warranty starts here (5.1.2)."),
        C("warranty_months", "INTEGER", min=0, max=600, default=12,
          doc="Warranty period; the standard asks at least 12 (5.1.2)."),
        C("maintenance_cycle_days", "INTEGER", min=1, max=3660, default=182,
          doc="Periodic maintenance cycle after warranty; at most half a year (5.1.2)."),
        C("sla_response_h", "DOUBLE", min=0, max=1000, default=0.5, doc="Response limit (5.1.1)."),
        C("sla_arrival_h", "DOUBLE", min=0, max=1000, default=4.0, doc="Arrival limit (5.1.1)."),
        C("sla_repair_h", "DOUBLE", min=0, max=1000, default=8.0, doc="Repair limit (5.1.1)."),
    ), key=("system_id",), doc="Security systems under maintenance (DB33/T 830-2011)."),
    Table("devices", (
        C("device_id", required=True),
        C("system_id", required=True, ref="systems.system_id"),
        C("subsystem", required=True, enum=SUBSYSTEMS, doc="Subsystem (tables 1/2)."),
        C("device_type", doc="Service-life key (5.1.2 table) or any other word."),
        C("zone", doc="Protected zone the device covers."),
        C("installed_on", "DATE"), C("decommissioned_on", "DATE"),
    ), key=("device_id",), checks=(
        Check(("decommissioned_on",), "decommissioned_on < installed_on",
              "decommissioned before it was installed"),
    ), doc="Devices of each system."),
    Table("faults", (
        C("fault_id", required=True),
        C("system_id", required=True, ref="systems.system_id"),
        C("device_id", ref="devices.device_id"),
        C("subsystem", enum=SUBSYSTEMS),
        C("occurred_at", TS, required=True, doc="Fault time (B.3)."),
        C("reported_at", TS, doc="Report time (B.2); SLA clocks start here."),
        C("responded_at", TS), C("arrived_at", TS),
        C("restored_at", TS, doc="Restore time (B.4); empty while the fault is open."),
        C("repair_mode", enum=REPAIR_MODES), C("repair_class", enum=REPAIR_CLASSES),
        C("in_warranty", "BOOLEAN"), C("symptom"), C("cause"), C("action"),
    ), key=("fault_id",), checks=(
        Check(("restored_at",), "restored_at < occurred_at", "restored before it occurred"),
    ), same_owner=(("device_id", "devices", "system_id"),),
        doc="One row per fault (appendix B.2-B.4)."),
    Table("maintenance", (
        C("maintenance_id", required=True),
        C("system_id", required=True, ref="systems.system_id"),
        C("subsystem", enum=SUBSYSTEMS, doc="Empty means the whole system."),
        C("kind", required=True, enum=MAINTENANCE_KINDS, doc="5.3.2."),
        C("started_at", TS, required=True), C("ended_at", TS),
        C("content"), C("effect"), C("fault_cause"), C("rating"),
        C("report_issued", "BOOLEAN", doc="A maintenance report was issued (5.2.2 d)."),
    ), key=("maintenance_id",), checks=(
        Check(("ended_at",), "ended_at < started_at", "ended before it started"),
    ), doc="Maintenance records (appendix B.1)."),
    Table("alarms", (
        C("alarm_id", required=True),
        C("system_id", doc="System (or plant/case) the alarm belongs to."),
        C("definition", required=True, doc="Alarm definition name."),
        C("event_type"),
        C("resource_id", required=True, doc="Device or tag that raised it."),
        C("priority", "INTEGER", min=1, max=5, doc="1 highest."),
        C("raised_at", TS, required=True), C("cleared_at", TS), C("handled_at", TS),
        C("assigned_to"), C("escalated_at", TS), C("closed_at", TS),
        C("status", enum=ALARM_STATUSES), C("close_reason", enum=CLOSE_REASONS),
        C("comment"),
    ), key=("alarm_id",), checks=(
        Check(("cleared_at",), "cleared_at < raised_at", "cleared before it was raised"),
        Check(("closed_at",), "closed_at < raised_at", "closed before it was raised"),
        Check(("close_reason",), "close_reason IS NOT NULL AND status IS DISTINCT FROM 'closed'",
              "a close reason needs status closed"),
    ), doc="One row per alarm instance (VMS alarm life cycle)."),
    Table("pms", (
        C("pm_id", required=True, doc="PM reference, e.g. FI-XXXXX-XXXX."),
        C("oi_code", required=True, pattern=OPERATOR_CODE, doc="Code_OI owning the PM."),
        C("lines", "INTEGER", min=0, max=1_000_000, doc="Customer lines served."),
        C("zone"),
    ), key=("pm_id",), doc="Shared cabinets (points de mutualisation)."),
    Table("interventions", (
        C("ref_interv_oi", required=True, doc="The OI's reference (R M1/R M3)."),
        C("ref_interv_do", doc="The DO's reference, same on M1 and M3."),
        C("code_do", pattern=OPERATOR_CODE), C("code_oi", required=True, pattern=OPERATOR_CODE),
        C("pm_id", required=True, ref="pms.pm_id"),
        C("started_at", TS, required=True, doc="HD (Debut_Inter)."),
        C("ended_at", TS, doc="HF (Fin_Inter); empty while unknown."),
        C("m1_received_at", TS), C("m3_received_at", TS),
    ), key=("ref_interv_oi",), checks=(
        Check(("ended_at",), "ended_at < started_at", "HF before HD"),
    ), doc="One row per DO presence period at a PM (flow 1)."),
    Table("intervention_targets", (
        C("ref_interv_oi", required=True, ref="interventions.ref_interv_oi"),
        C("nature", enum=NATURES, doc="1 racc, 2 sav, 3 aucune_action, 4 non_fournie."),
        C("pbo"), C("pto", reference=True, doc="PTO reference (trimmed, upper case)."),
        C("declared_in", enum=TARGET_SOURCES,
          doc="The message that declared the line (m1, m3); empty when loaded as a table."),
    ), key=("ref_interv_oi", "declared_in", "nature", "pbo", "pto"),
        doc="Lines the DO works on (Nature_PBO_PTO): every line declared in M1 and in M3."),
    Table("outage_reports", (
        C("ref_interv_oi", required=True, ref="interventions.ref_interv_oi"),
        C("code_oc", required=True, pattern=OPERATOR_CODE),
        C("received_at", TS),
        C("clients_hs", "INTEGER", min=0, max=1_000_000,
          doc="Clients of the M5 kept as cuts (0 for an empty list)."),
        C("clients_set_aside", "INTEGER", min=0, max=1_000_000,
          doc="Clients of the M5 set aside (unknown PTO or cut time, malformed); see quarantine."),
    ), key=("ref_interv_oi", "code_oc"),
        doc="One row per M5 received (flow 3), also when its list is empty."),
    Table("outages", (
        C("code_oc", required=True, pattern=OPERATOR_CODE),
        C("pm_id", required=True, ref="pms.pm_id"),
        C("pto", reference=True, doc="PTO reference (trimmed, upper case; empty if unknown)."),
        C("pbo"), C("tube"), C("fibre"), C("position_pm"),
        C("cut_at", TS, required=True, doc="HMS_Coupure."),
        C("restored_at", TS),
        C("cause", enum=CUT_CAUSES,
          doc="power (dying gasp), derco, line_overwrite, ont_swap, customer_move: not a "
              "customer cut; other or empty: counted."),
        C("churned", "BOOLEAN", doc="The line was churned (resiliated)."),
        C("ref_interv_oi", ref="interventions.ref_interv_oi",
          doc="Set when the cut came in an M5; empty for cuts known from elsewhere."),
    ), key=("code_oc", "pm_id", "pto", "pbo", "tube", "fibre", "position_pm", "cut_at",
            "ref_interv_oi"),
        checks=(Check(("restored_at",), "restored_at < cut_at", "restored before the cut"),),
        doc="One row per customer line cut and source: a cut reported in an M5 and the "
            "same cut known from line supervision are two rows (the analyses count the "
            "cut once: same OC, PM, PTO and cut time); loading one never overwrites the other."),
)}

_BLANK = " \t\r\n"
_LOWER, _UPPER = "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TO_UPPER = str.maketrans(_LOWER, _UPPER)
_MARKERS_UPPER = tuple(m.upper() for m in UNKNOWN_MARKERS)


def normalise_reference(text: str | None) -> str | None:
    """A line reference as stored: blanks around it removed, ASCII letters upper-cased;
    None when empty or an unknown marker (:data:`UNKNOWN_MARKERS`).

    The store's loaders and the e-Intervention reception both apply it (the SQL form
    is :func:`reference_sql`, kept equal by a property test), so ``fi-5555-0001`` and
    ``FI-5555-0001 `` name one line. Only ASCII letters change case, so the rule is the
    same in every engine and locale.
    """
    if text is None:
        return None
    value = text.strip(_BLANK).translate(_TO_UPPER)
    return None if not value or value in _MARKERS_UPPER else value


def reference_sql(expr: str) -> str:
    """:func:`normalise_reference` in DuckDB SQL over the text expression ``expr``."""
    markers = ", ".join("'" + m.replace("'", "''") + "'" for m in _MARKERS_UPPER)
    up = f"translate(trim({expr}, ' ' || chr(9) || chr(13) || chr(10)), '{_LOWER}', '{_UPPER}')"
    return f"CASE WHEN {up} = '' OR {up} IN ({markers}) THEN NULL ELSE {up} END"


# Ingest order that satisfies the references.
LOAD_ORDER = ("systems", "devices", "faults", "maintenance", "alarms", "pms",
              "interventions", "intervention_targets", "outage_reports", "outages")
assert set(LOAD_ORDER) == set(TABLES)
