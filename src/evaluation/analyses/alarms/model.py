"""The false-alarm model: how likely is an open alarm to be closed as a false alarm?

Trained with scikit-learn on the **closed** alarms (label: close reason
``false_alarm`` — the guide's verdict), evaluated honestly on a **later** period
than it was trained on: the training set holds the alarms closed before
``split_at``, the test set the alarms raised from ``split_at`` on, so nothing of
the test period (not even a verdict given later) leaks into training.

Features, all known when an alarm is raised (computed in the engine):
definition, resource, event type (categorical), priority, hour of day and
weekday on the clock of the database's time zone (the zone the model was trained
in, kept in its metadata as ``time_zone`` and used again when it scores), seconds
since the previous raise of the same alarm, raises of the
same alarm in the previous hour and day, and a target encoding of the
definition's false-alarm rate (cross-fitted by scikit-learn's TargetEncoder).
Estimator: histogram gradient boosting with native categorical support.

The **baseline** is the simplest sensible predictor: each definition's
historical false-alarm rate on the training period (the overall rate for a
definition not seen then). Both are reported with ROC-AUC, precision and recall
(threshold 0.5) on the test period.

The fitted pipeline is saved with joblib together with its metadata (model
version, library versions, periods, features, metrics) and a JSON copy of the
metadata beside it; :func:`load_model` checks the model version on reload.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ... import localtime
from ...errors import OpevalError
from .false_alarms import with_time_parts
from .nuisance import open_alarms
from .prep import KEY, instances
from .rules import AlarmRules

MODEL_VERSION = "alarm-false-1"
"""Bumped whenever the features or the estimator change; a saved model of another
version is refused on reload."""
CATEGORICAL = ["definition", "resource_id", "event_type"]
NUMERIC = ["priority", "hour", "weekday", "log_gap_s", "prev_1h", "prev_24h"]
THRESHOLD = 0.5
MIN_TRAIN = 30
MIN_TEST = 10


class ModelError(OpevalError):
    """Not enough labelled alarms to train or evaluate, or an unusable saved model."""


def features(alarms: ibis.Table, rules: AlarmRules = AlarmRules(),
             zone: str = localtime.UTC) -> ibis.Table:
    """Per alarm: id, times, label columns and the model's features (engine side).

    ``hour`` and ``weekday`` are those of the raise on the clock of ``zone``, the
    database's time zone (:func:`.false_alarms.with_time_parts`, as the false-alarm
    rates by hour and weekday): a schedule is the operators' and follows their clock
    across its changes. Exact for every raise of ``alarms`` (the span given to
    :func:`evaluation.localtime.local_time` is that of their raises).
    """
    inst = instances(alarms, rules.chatter_raises)
    span = None
    if zone != localtime.UTC:
        lo, hi = alarms.aggregate(lo=_.raised_at.min(), hi=_.raised_at.max()).execute().iloc[0]
        span = ((lo.to_pydatetime(), hi.to_pydatetime()) if not pd.isna(lo)
                else (dt.datetime(1970, 1, 1),) * 2)   # no raise: nothing to place
    inst = with_time_parts(inst, zone, span)
    keys = [_[k] for k in KEY]
    w1h = ibis.window(group_by=keys, order_by=_.raised_at, range=(-ibis.interval(hours=1), 0))
    w1d = ibis.window(group_by=keys, order_by=_.raised_at, range=(-ibis.interval(days=1), 0))
    return inst.mutate(
        log_gap_s=(_.gap_s.fill_null(1e7) + 1.0).ln(),
        prev_1h=_.raised_at.count().over(w1h) - 1, prev_24h=_.raised_at.count().over(w1d) - 1,
        label=_.false_alarm.cast("int8"),
        done_at=ibis.coalesce(_.closed_at, _.raised_at),
    ).select("alarm_id", "raised_at", "done_at", "closed", "status", "closed_at", "cleared_at",
             "label", *CATEGORICAL, *NUMERIC)


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    x = df[CATEGORICAL + NUMERIC].copy()
    for c in CATEGORICAL:
        x[c] = x[c].astype("object").where(x[c].notna(), "(none)").astype(str)
    for c in NUMERIC:
        x[c] = pd.to_numeric(x[c], errors="coerce").astype("float64")
    x["definition_rate"] = x["definition"]
    return x


def _one_thread():
    """Gradient boosting with one OpenMP thread: on a shared, busy machine the
    default thread team spins against other processes and runs ~10x slower."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1)


def _pipeline(seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

    pre = ColumnTransformer([
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                               encoded_missing_value=np.nan, max_categories=200), CATEGORICAL),
        ("num", "passthrough", NUMERIC),
        ("rate", TargetEncoder(target_type="binary",
                               cv=StratifiedKFold(5, shuffle=True, random_state=seed)),
         ["definition_rate"]),
    ])
    clf = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL))), max_iter=100, learning_rate=0.1,
        early_stopping=False, random_state=seed)
    return Pipeline([("features", pre), ("classifier", clf)])


@dataclass
class FittedModel:
    """A trained pipeline, the baseline rates, and the metadata saved with them."""

    pipeline: object
    baseline_rates: dict[str, float]
    baseline_default: float
    metadata: dict = field(default_factory=dict)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(false alarm) for feature rows (as returned by :func:`features`)."""
        with _one_thread():
            return self.pipeline.predict_proba(_frame(df))[:, 1]

    def baseline_proba(self, df: pd.DataFrame) -> np.ndarray:
        return df["definition"].map(self.baseline_rates).fillna(self.baseline_default).to_numpy(float)


def _metrics(y: np.ndarray, p: np.ndarray) -> dict:
    from sklearn.metrics import precision_score, recall_score, roc_auc_score
    pred = (p >= THRESHOLD).astype(int)
    auc = float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else None
    return dict(roc_auc=None if auc is None else round(auc, 4),
                precision=float(precision_score(y, pred, zero_division=0)),
                recall=float(recall_score(y, pred, zero_division=0)),
                positives=int(y.sum()), predicted_positive=int(pred.sum()), rows=len(y))


def fit(alarms: ibis.Table, split_at: dt.datetime | None = None, train_share: float = 0.7,
        rules: AlarmRules = AlarmRules(), seed: int = 0, max_rows: int = 500_000,
        zone: str = localtime.UTC) -> FittedModel:
    """Train on closed alarms before ``split_at``, evaluate on those raised from it on.

    Hours and weekdays are those of ``zone``, the database's time zone
    (:func:`features`); the metadata keep it (``time_zone``) so that
    :func:`score_open` reads the open alarms on the same clock.

    ``split_at`` defaults to the raise time before which ``train_share`` of the
    closed alarms lie. After evaluation the model is **refitted on every closed
    alarm** (train and test period) so that the saved model uses all evidence;
    the reported metrics are those of the honest, earlier-trained fit.
    """
    feats = features(alarms, rules, zone)
    closed = feats.filter(_.closed)
    n = int(closed.count().execute())
    if n < MIN_TRAIN + MIN_TEST:
        raise ModelError(f"only {n} closed alarms with a close reason; the false-alarm model "
                         f"needs at least {MIN_TRAIN + MIN_TEST}")
    if split_at is None:
        q = closed.raised_at.epoch_seconds().quantile(train_share).execute()
        split_at = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(q))
    cut = ibis.literal(split_at, type="timestamp")
    cols = ["alarm_id", "raised_at", "label", *CATEGORICAL, *NUMERIC]
    train = closed.filter((_.raised_at < cut) & (_.done_at < cut)).select(cols)
    test = closed.filter(_.raised_at >= cut).select(cols)
    n_train = int(train.count().execute())
    if n_train > max_rows:  # keep the most recent ones
        train = train.order_by([ibis.desc("raised_at"), ibis.desc("alarm_id")]).limit(max_rows)
    # A fixed row order: the target encoder's folds, hence the model, depend on it.
    tr = train.order_by(["raised_at", "alarm_id"]).execute()
    te = test.order_by(["raised_at", "alarm_id"]).limit(max_rows).execute()
    if len(tr) < MIN_TRAIN or len(te) < MIN_TEST or tr.label.nunique() < 2:
        raise ModelError(f"not enough closed alarms on both sides of {split_at.isoformat()} "
                         f"(train {len(tr)}, test {len(te)}; both verdicts needed in training)")
    y_tr, y_te = tr.label.to_numpy(int), te.label.to_numpy(int)
    with _one_thread():
        pipe = _pipeline(seed).fit(_frame(tr), y_tr)
    rates = tr.groupby("definition").label.mean().to_dict()
    default = float(y_tr.mean())
    honest = FittedModel(pipe, rates, default)
    p_model = honest.predict_proba(te)
    p_base = honest.baseline_proba(te)
    evaluation = dict(model=_metrics(y_te, p_model), baseline=_metrics(y_te, p_base),
                      threshold=THRESHOLD)
    # Refit on everything for the saved model (metrics above stay the honest ones).
    allrows = pd.concat([tr, te], ignore_index=True)
    y_all = allrows.label.to_numpy(int)
    with _one_thread():
        final = _pipeline(seed).fit(_frame(allrows), y_all)
    import sklearn
    meta = dict(
        model_version=MODEL_VERSION, created_at=dt.datetime.now(dt.UTC).isoformat(),
        sklearn_version=sklearn.__version__, estimator="HistGradientBoostingClassifier",
        features=CATEGORICAL + NUMERIC + ["definition_rate (target encoded)"],
        split_at=split_at.isoformat(), time_zone=zone,
        train_period=[_iso(tr.raised_at.min()), _iso(tr.raised_at.max())],
        test_period=[_iso(te.raised_at.min()), _iso(te.raised_at.max())],
        train_rows=len(tr), test_rows=len(te), evaluation=evaluation,
        beats_baseline=_beats(evaluation),
    )
    final_rates = allrows.groupby("definition").label.mean().to_dict()
    return FittedModel(final, final_rates, float(y_all.mean()), meta)


def _beats(ev: dict) -> bool | None:
    a, b = ev["model"]["roc_auc"], ev["baseline"]["roc_auc"]
    return None if a is None or b is None else a >= b


def _iso(t) -> str | None:
    return None if t is None or pd.isna(t) else pd.Timestamp(t).isoformat()


def save_model(model: FittedModel, directory: str | Path) -> Path:
    """Write ``<dir>/<version>-<UTC time>.joblib`` (pipeline, baseline, metadata)
    and the metadata as ``.json`` beside it; return the joblib path."""
    import joblib
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{MODEL_VERSION}-{stamp}.joblib"
    joblib.dump({"pipeline": model.pipeline, "baseline_rates": model.baseline_rates,
                 "baseline_default": model.baseline_default, "metadata": model.metadata}, path)
    path.with_suffix(".json").write_text(json.dumps(model.metadata, indent=2, default=str),
                                         encoding="utf-8")
    return path


def load_model(path: str | Path) -> FittedModel:
    """Reload a saved model; refuse one of another model version."""
    import joblib
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    obj = joblib.load(path)
    meta = obj.get("metadata", {}) if isinstance(obj, dict) else {}
    if meta.get("model_version") != MODEL_VERSION:
        raise ModelError(f"{path}: model version {meta.get('model_version')!r}, this opeval "
                         f"reads {MODEL_VERSION!r}; refit it with `opeval alarms --fit-model`")
    return FittedModel(obj["pipeline"], obj["baseline_rates"], obj["baseline_default"], meta)


def score_open(model: FittedModel, alarms: ibis.Table, rules: AlarmRules = AlarmRules(),
               limit: int = 1000) -> list[dict]:
    """The open alarms (guide: new, in progress, escalated) with ``p_false``, most
    likely false first (at most ``limit``). Their hours and weekdays are read on the
    clock the model was trained on (its metadata's ``time_zone``; UTC for a model
    saved without one, as they all were trained then)."""
    feats = features(alarms, rules, model.metadata.get("time_zone") or localtime.UTC)
    is_open = open_alarms(feats)
    df = feats.filter(is_open & ~_.closed).execute()
    if not len(df):
        return []
    df = df.assign(p_false=model.predict_proba(df), baseline=model.baseline_proba(df))
    df = df.sort_values(["p_false", "raised_at"], ascending=[False, True]).head(limit)
    return [dict(alarm_id=r.alarm_id, definition=r.definition, resource_id=r.resource_id,
                 raised_at=_iso(r.raised_at), status=r.status, p_false=float(r.p_false),
                 baseline=float(r.baseline)) for r in df.itertuples()]
