"""The counting rules of e-Intervention lot 1, each in one place.

Every function here states one rule of the specification (seed ``002_…``) and
builds the Ibis expression that applies it; the correlation
(:mod:`.correlation`) only combines them.

- Flow 3 / M5, "criteria for a client out of service" (§2.1.5): a cut counts
  only if it is not a power cut (e.g. a *dying gasp* alarm), its PTO is known,
  its cut time (HMS_Coupure) is known, and it is not the line the DO works on
  (:func:`target_key`). OCs may drop churned (resiliated) lines; this product
  always drops them so that every OC is counted alike. The §6 evolutions widen
  the exclusions to DERCO, overwritten lines, ONT swaps and customers moving
  (:data:`EXCLUSIONS`).
- One cut is one event whatever the number of sources (:data:`CUT_ID`): the same
  OC, PM, PTO and cut time reported in an M5 and by line supervision is counted
  once, and any source's exclusion applies to it (:func:`exclusion_rank`).
- Flow 3: the listed clients are those whose cut time lies in [HD, HF], bounds
  included (:func:`in_window`).
- "Timestamp quality" (§4): HD must not be more than 5 minutes before the first
  manipulation nor after it; HF likewise at the end (:data:`TIMESTAMP_TOLERANCE`).
- Flow 3 transmission delay: an M5 is due the same day, before midnight
  (:func:`m5_late`), in the database's time zone.
- Evolutions (§6): restored lines in and out of the window *on the same day*
  (:func:`short_cut`); the delay between M1 reception and HD (:func:`m1_delay_s`),
  a large one being treated apart (:func:`m1_late`).
"""
from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

#: §4 "Qualité des horodatages": 5 minutes either side of the first/last manipulation.
TIMESTAMP_TOLERANCE = dt.timedelta(minutes=5)

#: What identifies one customer cut, whatever reported it: OC, PM, line and cut time.
CUT_ID = ("code_oc", "pm_id", "pto", "cut_at")

#: Why a cut is not counted, in order of precedence, with the ``outages.cause`` value
#: that says it (None: the ``churned`` flag). Power cuts: §2.1.5; churned lines: §2.1.5
#: last sentence; the others: the wider exclusions of §6.
EXCLUSIONS = (("power_cut", "power"), ("churned", None), ("derco", "derco"),
              ("line_overwrite", "line_overwrite"), ("ont_swap", "ont_swap"),
              ("customer_move", "customer_move"))
#: Reasons of the cuts that cannot be identified (so neither merged nor counted).
UNKNOWN_PTO, UNKNOWN_CUT_TIME = "unknown_pto", "unknown_cut_time"
#: A cut of a DO's own line inside that DO's window (§2.1.5, second criterion).
TARGET_LINE = "target_line"


def identified(outages: ir.Table) -> ir.BooleanValue:
    """The cut can be identified (:data:`CUT_ID`): its PTO and its cut time are known.

    These are also two criteria of a client out of service (§2.1.5), so a cut that
    cannot be identified is never counted. PTO references are stored normalised, an
    unknown marker ("inconnu", …) as empty (:func:`evaluation.store.schema.normalise_reference`).
    """
    return outages.pto.notnull() & outages.cut_at.notnull()


def unidentified_reason(outages: ir.Table) -> ir.StringValue:
    """Why a cut cannot be identified (cut time first), or NULL."""
    return ibis.cases((outages.cut_at.isnull(), UNKNOWN_CUT_TIME),
                      (outages.pto.isnull(), UNKNOWN_PTO), else_=ibis.null(str))


def exclusion_rank(outages: ir.Table) -> ir.IntegerValue:
    """Position in :data:`EXCLUSIONS` of the reason this row excludes its cut, or NULL.

    A cut reported by several sources takes the lowest rank among them: a
    ``power`` cause from any source excludes it.
    """
    by_cause = outages.cause.cases(
        *[(word, rank) for rank, (_reason, word) in enumerate(EXCLUSIONS) if word is not None],
        else_=ibis.null("int8"))
    churned = next(rank for rank, (_r, word) in enumerate(EXCLUSIONS) if word is None)
    return ibis.least(by_cause, ibis.ifelse(outages.churned, churned, ibis.null("int8")))


def exclusion_reason(rank: ir.IntegerValue) -> ir.StringValue:
    """The reason of an :func:`exclusion_rank` (NULL for a counted cut)."""
    return ibis.cases(*[(rank == i, reason) for i, (reason, _w) in enumerate(EXCLUSIONS)],
                      else_=ibis.null(str))


def target_key(targets: ir.Table) -> ir.Table:
    """(target_ref, target_pto) of the lines each DO works on (Nature_PBO_PTO, §2.1.3).

    Every line declared in M1 or in M3 counts (``declared_in`` is not looked at).
    A cut of one of these lines inside its own intervention's window is the
    client the technician is working on and is never counted (§2.1.5, second
    criterion). Targets with an unknown PTO cannot exclude anything. References
    are stored normalised (trimmed, upper case), so they compare as stored.
    """
    t = targets.filter(targets.pto.notnull())
    return t.select(target_ref=t.ref_interv_oi, target_pto=t.pto).distinct()


def in_window(cut_at: ir.TimestampValue, hd: ir.TimestampValue,
              hf: ir.TimestampValue) -> ir.BooleanValue:
    """Flow 3: the cut time lies in [HD, HF], both bounds included."""
    return (cut_at >= hd) & (cut_at <= hf)


def position(cut_at: ir.TimestampValue, hd: ir.TimestampValue,
             hf: ir.TimestampValue) -> ir.StringValue:
    """Where a cut matched within the tolerance lies: 'before' HD, 'in' [HD, HF], 'after' HF.

    A cut 'before' HD (at most 5 minutes) suggests the DO declared HD after the
    first manipulation; 'after' HF that HF came before the last one (§4).
    """
    return ibis.cases((in_window(cut_at, hd, hf), "in"), (cut_at < hd, "before"),
                      else_="after")


def m1_delay_s(m1_received_at: ir.TimestampValue, hd: ir.TimestampValue) -> ir.NumericValue:
    """Seconds from HD to the reception of M1 (§6 evolution: check the M1-reception/HD gap).

    Negative when M1 arrived before the declared start (a clock problem at the DO).
    """
    return m1_received_at.epoch_seconds() - hd.epoch_seconds()


def m1_late(m1_received_at: ir.TimestampValue, hd: ir.TimestampValue,
            threshold_s: float) -> ir.BooleanValue:
    """The M1 came more than ``threshold_s`` after HD (§6: "if the gap is too large, the
    data must be treated specifically"; an OC comparing line states at M2 and M4 may
    miss cuts of such an intervention)."""
    return (m1_delay_s(m1_received_at, hd) > threshold_s).fill_null(False)


def m3_before_m1(m1_received_at: ir.TimestampValue,
                 m3_received_at: ir.TimestampValue) -> ir.BooleanValue:
    """M3 was received before M1 (§4 "M3 before M1": the record keeps M3's data)."""
    return (m3_received_at < m1_received_at).fill_null(False)


def m5_late(received_day: ir.DateValue, hf_day: ir.DateValue) -> ir.BooleanValue:
    """The M5 came after midnight of the day the intervention ended (flow 3 delay); the
    days are local days of the database's zone (:meth:`.correlation.Period.day`)."""
    return (received_day > hf_day).fill_null(False)


def m5_before_m3(received_at: ir.TimestampValue,
                 m3_received_at: ir.TimestampValue) -> ir.BooleanValue:
    """The M5 came before the intervention's M3 (flow 3 answers M4, itself sent on M3):
    accepted, but the OC cannot have known HF."""
    return (m3_received_at.isnull() | (received_at < m3_received_at)).fill_null(False)


def short_cut(cut_day: ir.DateValue, restored_day: ir.DateValue) -> ir.BooleanValue:
    """A cut restored on the same local calendar day — §6: short cuts reveal
    reference-data problems."""
    return (restored_day == cut_day).fill_null(False)
