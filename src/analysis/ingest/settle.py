"""Cleaning steps 5–7 over all records at once: repeats, cross-field rules, outputs, conservation.

Repeats of one (county, period, indicator) may come from different files, the cross-field rules
compare indicators of one county and period, and row conservation is checked over the finished
output tables; so these steps run once, in the calling process, over the joined
:class:`~analysis.ingest.prepare._Prepared` parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from analysis.catalog import load_catalog
from analysis.ingest.cells import _as_texts
from analysis.ingest.prepare import _audit_rows, _Prepared
from analysis.ingest.result import (
    AUDIT_COLUMNS,
    INDICATOR_COLUMNS,
    QUALITY_COLUMNS,
    QUARANTINE_COLUMNS,
    CleanResult,
    ConservationError,
)
from analysis.ingest.validate import FAILURE_COLUMNS, check_cross, failure_rows, reconcile_rates


def _join_prepared(parts: list[_Prepared]) -> _Prepared:
    """Prepared parts of disjoint file sets, in order, as one."""
    if len(parts) == 1:
        return parts[0]
    return _Prepared(rec=pd.concat([p.rec for p in parts], ignore_index=True),
                     audits=[a for p in parts for a in p.audits],
                     failures=[f for p in parts for f in p.failures],
                     notes=pd.concat([p.notes for p in parts]))


def _repeats(vals: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str],
                                           pd.DataFrame, pd.Series]:
    """Step 5: copies of one (county, period, indicator) among the value records.

    Returns ``(kept, merged, keeper id per merged row, conflicting, listing)``: different
    copies are all conflicting (``listing`` names their values in row order); of identical
    copies the first that holds a value is kept, in the order (file, sheet, record id), and the
    others are merged.  Only records with copies are sorted (a few dozen of 10⁵ on the demo).
    """
    key = ["county_code", "period", "indicator"]
    gid = vals.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
    multi = (np.bincount(gid)[gid] > 1) if len(gid) else np.zeros(0, dtype=bool)
    many = vals[multi].sort_values(["source_file", "source_sheet", "record_id"], kind="stable")
    gid = many.groupby(key, sort=True, dropna=False).ngroup().to_numpy()
    rounded = many["value"].round(9).to_numpy(dtype=float)
    # nunique ignores NaN: a "—" copy never conflicts with a number
    has_value = ~np.isnan(rounded)
    pairs = pd.DataFrame({"g": gid[has_value], "v": rounded[has_value]}).drop_duplicates()
    distinct = (np.bincount(pairs["g"].to_numpy(), minlength=gid.max() + 1)[gid] if len(gid)
                else np.zeros(0, dtype=int))
    conflict = distinct > 1
    conflicting = many[conflict]
    # the distinct values of each group, in row order
    seen: dict[int, dict[str, None]] = {}
    for g, x in zip(gid[conflict].tolist(), _as_texts(conflicting["raw_value"]).tolist()):
        seen.setdefault(g, {})[x] = None
    joined = np.full(gid.max() + 1 if len(gid) else 0, None, dtype=object)
    for g, texts in seen.items():
        joined[g] = "、".join(texts)
    listing = pd.Series(joined[gid[conflict]], index=conflicting.index, dtype=object)
    # keep the first copy that holds a value (a "—" copy adds nothing to a reported number):
    # within each group, copies with a value first, then the sorted order above
    agree = many[~conflict]
    order = np.lexsort((~has_value[~conflict], gid[~conflict]))  # stable: last key primary
    agree = agree.iloc[order]
    agree_gid = gid[~conflict][order]
    first = np.ones(len(agree_gid), dtype=bool)
    first[1:] = agree_gid[1:] != agree_gid[:-1]
    # index of each merged row's group leader among the kept rows
    leader = np.searchsorted(agree_gid[first], agree_gid[~first])
    kept_id = agree["record_id"].to_numpy()[first][leader].tolist()
    kept = pd.concat([vals[~multi], agree[first]])
    return kept, agree[~first], kept_id, conflicting, listing


def _settle(prepared: _Prepared, *, structure: pd.DataFrame | None,
            to_base: Callable[[Sequence[str]], pd.Series], cat: pd.DataFrame) -> CleanResult:
    """Steps 5–7 over all records at once: repeats, cross-field rules, outputs, conservation."""
    rec, audits, failures, notes = (prepared.rec, list(prepared.audits),
                                    list(prepared.failures), prepared.notes)
    if rec["record_id"].duplicated().any():
        dup = rec.loc[rec["record_id"].duplicated(), "record_id"].iloc[0]
        raise ValueError(f"clean_records: record_id {dup!r} is not unique; ids must be unique "
                         "over all files (extract_records prefixes them with the file)")
    kind = rec["kind"]
    outcome = rec["outcome"].copy()
    # 5. repeats of (county, period, indicator)
    values_mask = (outcome == "") & (kind == "value")
    kept, merged, kept_id, conflicting, listing = _repeats(rec[values_mask])
    if len(conflicting):
        failures.append(failure_rows(conflicting, "duplicate_conflict",
                                     extra={"values": listing}))
        outcome[conflicting.index] = "quarantined"
    if len(merged):
        audits.append(_audit_rows(merged, "duplicate", "duplicate_merged", "merge",
                                  _as_texts(merged["raw_value"]), _as_texts(merged["value"]),
                                  pd.Series([f"same value as {k}" for k in kept_id],
                                            index=merged.index)))
        outcome[merged.index] = "merged"

    # 6. cross-field rules on the kept values, reported rates against their counts
    cross = check_cross(kept, notes)
    failures.append(cross)
    quarantined_cross = set(cross.loc[cross["action"] == "quarantine", "record_id"])
    fixed_cross = cross[cross["action"] == "fix"]
    audits.append(_audit_rows(rec.set_index("record_id").loc[fixed_cross["record_id"]]
                              .reset_index(), "cross", fixed_cross["rule"], "fix",
                              _as_texts(fixed_cross["raw_value"]),
                              _as_texts(fixed_cross["value"]), fixed_cross["message"]))
    in_cross = kept["record_id"].isin(quarantined_cross)
    outcome[kept.index[in_cross]] = "quarantined"
    kept = kept[~in_cross]
    outcome[kept.index] = "clean"

    rates = rec[(outcome == "") & (kind == "rate")]
    rate_rows = reconcile_rates(rates, kept)
    failures.append(rate_rows[rate_rows["action"] == "fix"])
    rr = rate_rows.set_index("record_id").reindex(rates["record_id"])
    audits.append(_audit_rows(rates, "rate", rr["rule"], rr["action"],
                              _as_texts(rates["raw_value"]),
                              _as_texts(rr["value"]), rr["message"]))
    outcome[rates.index] = "set_aside"

    # 7. outputs
    unit = kept["indicator"].map(cat["unit"])
    base = to_base(kept["county_code"].tolist()) if len(kept) else pd.Series([], dtype=object)
    indicators = pd.DataFrame({
        "county_code": kept["county_code"].astype(str).to_numpy(),
        "base_code": pd.Series(base).astype(object).to_numpy(),
        "period": kept["period"].to_numpy(),
        "indicator": kept["indicator"].to_numpy(),
        "value": kept["value"].astype(float).to_numpy(),
        "unit": unit.to_numpy(),
        "source_file": kept["source_file"].to_numpy(),
        "source_sheet": kept["source_sheet"].to_numpy(),
        "source_cell": kept["source_cell"].to_numpy(),
    }, columns=INDICATOR_COLUMNS).sort_values(["county_code", "period", "indicator"],
                                              ignore_index=True)

    failure_table = pd.concat([f for f in failures if len(f)] or
                              [pd.DataFrame(columns=FAILURE_COLUMNS)], ignore_index=True)
    quarantine = failure_table[failure_table["action"] == "quarantine"]
    quarantine = quarantine.sort_values(["file", "sheet", "record_id", "rule"],
                                        ignore_index=True)[QUARANTINE_COLUMNS]
    # raw cells mix numbers, text and dates; one text column reads the same in CSV and Parquet
    quarantine["raw_value"] = _as_texts(quarantine["raw_value"]).astype(object)
    audit = pd.concat([a for a in audits if len(a)] or [pd.DataFrame(columns=AUDIT_COLUMNS)],
                      ignore_index=True)
    audit = audit.sort_values(["source_file", "source_sheet", "record_id", "stage", "rule"],
                              ignore_index=True)[AUDIT_COLUMNS]

    if (outcome == "").any():  # every record must have exactly one fate
        lost = rec.loc[outcome == "", "record_id"].tolist()[:5]
        raise ConservationError(f"clean_records: records without an outcome, e.g. {lost}")
    rec = rec.assign(outcome=outcome)  # the prepared records stay as they were given
    files = _file_counts(rec, structure)
    _check_conservation(files, indicators, quarantine, audit)
    quality = _quality(rec, indicators, audit, quarantine, to_base)
    return CleanResult(indicators=indicators, quarantine=quarantine, audit=audit,
                       quality=quality, files=files,
                       structure=structure if structure is not None else pd.DataFrame())


def _file_counts(rec: pd.DataFrame, structure: pd.DataFrame | None) -> pd.DataFrame:
    counts = (rec.groupby(["source_file", "outcome"]).size().unstack(fill_value=0)
              .reindex(columns=["clean", "quarantined", "merged", "set_aside"], fill_value=0))
    counts.insert(0, "records_in", rec.groupby("source_file").size())
    unknown = rec[rec["kind"] == "unknown"].groupby("source_file")[
        "header_text"].agg(lambda s: "|".join(sorted(set(s.fillna("").astype(str)))))
    counts["unknown_columns"] = unknown.reindex(counts.index).astype(object).fillna("")
    if structure is not None and len(structure) and "source_file" in structure:
        counts["structure_rows"] = structure.groupby("source_file").size().reindex(
            counts.index).fillna(0).astype(int)
    else:
        counts["structure_rows"] = 0
    return counts.reset_index()


def _check_conservation(files: pd.DataFrame, indicators: pd.DataFrame,
                        quarantine: pd.DataFrame, audit: pd.DataFrame) -> None:
    """Recount every file's records from the *output tables* and compare with records in."""
    by_file = files.set_index("source_file")
    clean = indicators.groupby("source_file").size()
    quar = quarantine.groupby("file")["record_id"].nunique()
    merged = audit[audit["action"] == "merge"].groupby("source_file")["record_id"].nunique()
    # reported rates are always set aside, also when audited as a "fix" (rate_recomputed)
    aside_rows = audit[(audit["action"] == "set_aside") | (audit["stage"] == "rate")]
    aside = aside_rows.groupby("source_file")["record_id"].nunique()
    recount = pd.DataFrame({"clean": clean, "quarantined": quar, "merged": merged,
                            "set_aside": aside}).reindex(by_file.index).fillna(0).astype(int)
    total = recount.sum(axis=1)
    bad = total != by_file["records_in"]
    if bad.any():
        f = bad[bad].index[0]
        raise ConservationError(
            f"{f}: {int(by_file.at[f, 'records_in'])} data cells in, but clean "
            f"{recount.at[f, 'clean']} + quarantined {recount.at[f, 'quarantined']} + merged "
            f"{recount.at[f, 'merged']} + set aside {recount.at[f, 'set_aside']} = {int(total[f])}"
            "; a cleaning step lost or double-counted records (bug: report it with this file)")


def _round_of(period: str) -> int:
    # 2011 lies between the rounds; it is reported on the round-1 form
    return 1 if int(period[:4]) <= 2011 else 2


def _quality(rec: pd.DataFrame, indicators: pd.DataFrame, audit: pd.DataFrame,
             quarantine: pd.DataFrame, to_base) -> pd.DataFrame:
    cat = load_catalog()
    raw = cat[cat["kind"] == "raw"]
    expected_by_round = {r: int(raw["rounds"].map(lambda t, r=r: r in t).sum()) for r in (1, 2)}
    units = rec.loc[rec["county_code"].notna() & rec["period"].notna(),
                    ["county_code", "period"]].drop_duplicates()
    key = ["county_code", "period"]
    reported = indicators.groupby(key)["value"].count()
    present = indicators.groupby(key)["indicator"].nunique()
    fixes = audit[audit["action"] == "fix"].groupby(key)["record_id"].nunique()
    q = quarantine.dropna(subset=["county_code", "period"]).groupby(
        ["county_code", "period"])["record_id"].nunique()
    out = units.set_index(key).sort_index()
    out["expected"] = [expected_by_round[_round_of(p)] for _, p in out.index]
    out["reported"] = reported.reindex(out.index).fillna(0).astype(int)
    out["missing"] = present.reindex(out.index).fillna(0).astype(int) - out["reported"]
    out["completeness"] = (out["reported"] / out["expected"]).round(4)
    out["fixes"] = fixes.reindex(out.index).fillna(0).astype(int)
    out["quarantined"] = q.reindex(out.index).fillna(0).astype(int)
    out = out.reset_index()
    out["base_code"] = (pd.Series(to_base(out["county_code"].tolist())).astype(object).to_numpy()
                        if len(out) else [])
    return out[QUALITY_COLUMNS]
