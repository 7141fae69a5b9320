"""The counting rules of e-Intervention lot 1, each in one place.

Every function here states one rule of the specification (seed ``002_…``) and
builds the Ibis expression that applies it; the correlation
(:mod:`.correlation`) only combines them.

- Flow 3 / M5, "criteria for a client out of service" (§2.1.5): a cut counts
  only if it is not a power cut (e.g. a *dying gasp* alarm), its PTO is known,
  its cut time (HMS_Coupure) is known, and it is not the line the DO works on
  (:func:`target_key`). OCs may drop churned (resiliated) lines; this product
  always drops them so that every OC is counted alike. Optional fields the OC
  could not fill are sent as the word "inconnu" (:data:`UNKNOWN_WORDS`).
- Flow 3: the listed clients are those whose cut time lies in [HD, HF], bounds
  included (:func:`in_window`).
- "Timestamp quality" (§4): HD must not be more than 5 minutes before the first
  manipulation nor after it; HF likewise at the end (:data:`TIMESTAMP_TOLERANCE`).
- Flow 3 transmission delay: an M5 is due the same day, before midnight
  (:func:`m5_late`).
- Evolutions (§6): restored lines in and out of the window *on the same day*
  (:func:`short_cut`); the delay between M1 reception and HD (:func:`m1_delay_s`).
"""
from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

#: §4 "Qualité des horodatages": 5 minutes either side of the first/last manipulation.
TIMESTAMP_TOLERANCE = dt.timedelta(minutes=5)

#: Values an OC sends for a field it could not fill (§2.1.5), compared case-insensitively.
UNKNOWN_WORDS = ("", "inconnu", "unknown", "n/a", "null")

#: ``outages.cause`` value of a power cut (dying gasp) — never a counted cut.
POWER_CAUSE = "power"


def known(col: ir.StringValue) -> ir.BooleanValue:
    """The reference is present and not one of the "unknown" words (§2.1.5).

    Only short values can be such a word, so the costly trim/lower runs on those only.
    """
    short = col.length() <= max(len(w) for w in UNKNOWN_WORDS) + 4
    return col.notnull() & ~(short & col.strip().lower().isin(UNKNOWN_WORDS))


def is_power_cut(outages: ir.Table) -> ir.BooleanValue:
    """The cut is due to a power failure of the customer's equipment (§2.1.5, first criterion)."""
    return outages.cause.fill_null("") == POWER_CAUSE


def is_churned(outages: ir.Table) -> ir.BooleanValue:
    """The line was churned; dropped from the count (§2.1.5, last sentence)."""
    return outages.churned.fill_null(False)


def counted(outages: ir.Table) -> ir.BooleanValue:
    """The intrinsic criteria of a counted cut (§2.1.5): all but "not the target line".

    The target criterion depends on the intervention a cut is matched to and
    is applied on the matched pairs (:func:`target_key`).
    """
    return (~is_power_cut(outages) & ~is_churned(outages) & known(outages.pto)
            & outages.cut_at.notnull())


def exclusion_reason(outages: ir.Table) -> ir.StringValue:
    """Why a cut is not counted (first failing criterion), or NULL when it passes the intrinsic ones."""
    return (ibis.cases(
        (outages.cut_at.isnull(), "unknown_cut_time"),
        (is_power_cut(outages), "power_cut"),
        (~known(outages.pto), "unknown_pto"),
        (is_churned(outages), "churned"),
        else_=ibis.null(str),
    ))


def target_key(targets: ir.Table) -> ir.Table:
    """(target_ref, target_pto) of the lines each DO works on (Nature_PBO_PTO, §2.1.3).

    A cut of one of these lines inside its own intervention's window is the
    client the technician is working on and is never counted (§2.1.5, second
    criterion). Targets with an unknown PTO cannot exclude anything.
    PTO references are compared as sent: the format is fixed (``FI-YYYY-YYYY``,
    [0-9A-Z-_]) and checked on reception, so no case folding is needed.
    """
    t = targets.filter(known(targets.pto))
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


def m3_before_m1(m1_received_at: ir.TimestampValue,
                 m3_received_at: ir.TimestampValue) -> ir.BooleanValue:
    """M3 was received before M1 (§4 "M3 before M1": the record keeps M3's data)."""
    return (m3_received_at < m1_received_at).fill_null(False)


def m5_late(received_at: ir.TimestampValue, hf: ir.TimestampValue) -> ir.BooleanValue:
    """The M5 came after midnight of the day the intervention ended (flow 3 delay)."""
    return (received_at.date() > hf.date()).fill_null(False)


def short_cut(cut_at: ir.TimestampValue, restored_at: ir.TimestampValue) -> ir.BooleanValue:
    """A cut restored on the same calendar day (UTC) — §6: short cuts reveal reference-data problems."""
    return (restored_at.notnull() & (restored_at.date() == cut_at.date())).fill_null(False)
