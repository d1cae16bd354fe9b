"""What one delivery lets the analysis compute: its half-years → windows, parts, Chinese notes.

Analysts rarely have the whole programme in hand: a delivery may stop in the middle of round 2,
hold one round or one half-year, one prefecture, or come without the residency roster
(驻点干部名册).  :func:`delivery_scope` reads the half-years present and the programme calendar of
:mod:`analysis.design` and returns a :class:`Scope`: every analysis window (each round's span,
the change windows, the DiD windows, the ranking period, the "end of round" of the compliance
charts), which parts can be computed, and one Chinese sentence for each part that cannot.  The
notebooks, the report and ``python -m analysis evaluate`` all take their windows from it, so a
window is derived in one place and stated the same way everywhere.

Rules [design] (reasons in ``docs/methods.md`` §0):

* **Round span** ``spans[r] = (baseline, end)``: ``baseline`` is the latest half-year present
  before the round's first batch (and after the previous round's end), ``end`` the latest
  half-year present from the first batch to the round's calendar end
  (``CHANGE_WINDOWS[r]["round"]``).  A round without either has no span.  ``complete[r]`` says
  whether ``end`` is the calendar end.
* **Change windows** ``change[r]``: the spans; when both rounds have one and they differ in
  length (a delivery that stops mid-round), the longer is cut to the length of the shorter
  (counted from its baseline), so both rounds' changes cover equally long stretches of any
  province-wide trend, as the calendar windows do.  ``after[r]`` (to half a year after the
  round) only when every round of ``change`` has it.
* **DiD windows** ``did[r]``: ``DID_WINDOWS[r]`` cut to the half-years present, kept when the
  roster has the round and some batch 1–3 has its start and the half-year before it present.
* **Ranking period**: the end of the latest span, else the latest half-year.
* **End of round** (compliance): each span's end.

The analyst can choose other windows: ``windows={2: ("2011H2", "2013H2")}`` replaces spans and
change windows of the rounds named (both half-years must be in the data), ``rank_period``
the ranking period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.design import (
    CHANGE_WINDOWS,
    DID_WINDOWS,
    ROUND_BATCHES,
    ROUND_NAMES_ZH,
    period_index,
    period_label,
)

__all__ = [
    "ScopeError",
    "PARTS_ZH",
    "NO_ROSTER_NOTE",
    "Scope",
    "delivery_scope",
    "read_scope",
    "rounds_in_roster",
]

PARTS_ZH: dict[str, str] = {
    "trends": "各半年走势",
    "round_change": "各轮驻点期间的变化",
    "round_comparison": "两轮比较",
    "design": "按批次、任务和考核等次的分析",
    "effects": "驻点效应估计（双重差分）",
    "round_difference": "两轮驻点效应之差",
    "compliance": "轮末达标情况",
}
"""The parts of the analysis a delivery may lack, by code, with their Chinese names."""

NO_ROSTER_NOTE = "本次数据没有驻点干部名册，只做描述性比较；驻点效应的估计需要驻点干部名册。"
"""The sentence shown wherever a part needs the residency roster."""


class ScopeError(ValueError):
    """A window or ranking period chosen by the analyst is not in the data."""


def _window(a: str, b: str) -> str:
    return f"{a}→{b}"


def _span(periods: list[str], r: int) -> tuple[str, str] | None:
    cal_start, cal_end = CHANGE_WINDOWS[r]["round"]
    first = period_index(ROUND_BATCHES[r][0])
    prev_end = period_index(CHANGE_WINDOWS[r - 1]["round"][1]) if r - 1 in CHANGE_WINDOWS else 0
    idx = {p: period_index(p) for p in periods}
    before = [p for p in periods if prev_end < idx[p] < first and idx[p] <= period_index(cal_start)]
    during = [p for p in periods if first <= idx[p] <= period_index(cal_end)]
    if not before or not during:
        return None
    return before[-1], during[-1]


@dataclass(frozen=True)
class Scope:
    """The windows and computable parts of one delivery (see the module docstring).

    Attributes
    ----------
    periods : half-years present, in calendar order.
    has_roster : the delivery has a non-empty residency roster.
    roster_rounds : rounds named in the roster.
    spans : round → ``(baseline, end)`` of each round the data cover.
    complete : round → whether the span reaches the round's calendar end.
    change : round → ``(baseline, end)`` of the change windows (equal lengths).
    after : round → ``(baseline, half a year after the round)``; empty unless every round of
        ``change`` has one.
    did : round → ``(first, last)`` half-year of the round's DiD (only with a roster).
    rank_period : half-year of the county ranking.
    chosen : the windows and ranking period the analyst chose (empty: all derived).
    notes : Chinese sentences: the windows used, then every part that cannot be computed.
    skipped : part code → Chinese reason, for every part that cannot be computed.
    """

    periods: tuple[str, ...]
    has_roster: bool
    roster_rounds: tuple[int, ...]
    spans: dict[int, tuple[str, str]]
    complete: dict[int, bool]
    change: dict[int, tuple[str, str]]
    after: dict[int, tuple[str, str]]
    did: dict[int, tuple[str, str]]
    rank_period: str
    chosen: dict[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)

    def can(self, part: str) -> bool:
        """Whether ``part`` (a key of :data:`PARTS_ZH`) can be computed on this delivery."""
        if part not in PARTS_ZH:
            raise ScopeError(f"Scope.can: unknown part {part!r}; choose one of {sorted(PARTS_ZH)}")
        return part not in self.skipped

    def why(self, part: str) -> str:
        """The Chinese sentence saying why ``part`` is not computed ("" when it is)."""
        self.can(part)
        return self.skipped.get(part, "")

    @property
    def batch_rounds(self) -> tuple[int, ...]:
        """Rounds whose batches can be followed: named in the roster and covered by the data."""
        return tuple(r for r in sorted(self.spans) if r in self.roster_rounds) if self.has_roster else ()

    @property
    def latest_round(self) -> int | None:
        """The latest round the data cover (None without any)."""
        return max(self.spans) if self.spans else None

    def round_end(self, r: int) -> str:
        """The half-year observed as "the end of round ``r``" (its span's end)."""
        return self.spans[r][1]

    def round_label(self, r: int) -> str:
        """``第二轮`` or, for a round the data do not cover to its end, ``第二轮（截至2013H1）``."""
        name = ROUND_NAMES_ZH[r]
        return name if self.complete.get(r, True) else f"{name}（截至{self.spans[r][1]}）"

    def round_end_label(self, r: int) -> str:
        """``第二轮末`` or, for a round the data do not cover to its end, ``第二轮截至2013H1``."""
        return f"{ROUND_NAMES_ZH[r]}末" if self.complete.get(r, True) else f"{ROUND_NAMES_ZH[r]}截至{self.round_end(r)}"

    def missing_round(self, r: int) -> str:
        """Chinese sentence for a section about round ``r`` that the data or roster cannot fill."""
        if r not in self.spans:
            first, end = ROUND_BATCHES[r][0], CHANGE_WINDOWS[r]["round"][1]
            return (f"本次数据没有覆盖{ROUND_NAMES_ZH[r]}（需要{first}以前的一个半年和{first}–{end}中"
                    "至少一个半年），本节从略。")
        if not self.has_roster:
            return NO_ROSTER_NOTE
        return f"驻点干部名册中没有{ROUND_NAMES_ZH[r]}的记录，本节从略。"

    @property
    def round_ends(self) -> dict[int, str]:
        """Round → the half-year observed as its end (:meth:`round_end`), for the rounds covered."""
        return {r: self.round_end(r) for r in sorted(self.spans)}

    def roster_note(self, r: int) -> str:
        """Chinese sentence for a section that needs round ``r`` of the roster ("" when it has it)."""
        if not self.has_roster:
            return NO_ROSTER_NOTE
        if r not in self.roster_rounds:
            return f"驻点干部名册中没有{ROUND_NAMES_ZH[r]}的记录，本节从略。"
        return ""

    def round_ends_text(self) -> str:
        """``轮末：第一轮2010H2，第二轮尚未结束（数据截至2013H1）。`` ("" without any round)."""
        if not self.spans:
            return ""
        return "轮末：" + "，".join(
            f"{ROUND_NAMES_ZH[r]}{self.round_end(r)}" if self.complete[r]
            else f"{ROUND_NAMES_ZH[r]}尚未结束（数据截至{self.round_end(r)}）" for r in sorted(self.spans)) + "。"

    def change_text(self) -> str:
        """``变化窗口：第一轮2008H1→2010H2，第二轮2011H2→2014H1。`` ("" without any)."""
        if not self.change:
            return ""
        return "变化窗口：" + "，".join(f"{ROUND_NAMES_ZH[r]}{_window(*w)}" for r, w in sorted(self.change.items())) + "。"

    def compare_windows(self) -> dict[int, dict[str, tuple[str, str]]]:
        """The change windows in the form of :func:`analysis.compare.round_changes`
        (``{round: {"round": …, "after": …}}``)."""
        return {r: {"round": w, **({"after": self.after[r]} if r in self.after else {})}
                for r, w in sorted(self.change.items())}

    def windows_frame(self) -> pd.DataFrame:
        """Every window used, one row each, with Chinese headers: 用途, 轮次, 起, 止."""
        rows = [("变化（本轮）", ROUND_NAMES_ZH[r], a, b) for r, (a, b) in sorted(self.change.items())]
        rows += [("变化（至本轮结束后半年）", ROUND_NAMES_ZH[r], a, b) for r, (a, b) in sorted(self.after.items())]
        rows += [("双重差分", ROUND_NAMES_ZH[r], a, b) for r, (a, b) in sorted(self.did.items())]
        rows += [("轮末", ROUND_NAMES_ZH[r], e, e) for r, e in self.round_ends.items()]
        rows += [("排名", "", self.rank_period, self.rank_period)]
        return pd.DataFrame(rows, columns=["用途", "轮次", "起", "止"])

    def windows_text(self) -> str:
        """One Chinese sentence naming every window used."""
        span = self.periods[0] if len(self.periods) == 1 else f"{self.periods[0]}–{self.periods[-1]}"
        parts = [f"数据时期：{span}（{len(self.periods)}个半年）"]
        if self.change:
            parts.append("变化窗口：" + "，".join(f"{ROUND_NAMES_ZH[r]}{_window(*w)}"
                                            for r, w in sorted(self.change.items())))
        if self.did:
            parts.append("双重差分窗口：" + "，".join(f"{ROUND_NAMES_ZH[r]}{a}–{b}"
                                              for r, (a, b) in sorted(self.did.items())))
        if self.spans:
            parts.append(self.round_ends_text().removesuffix("。"))
        parts.append(f"排名时期：{self.rank_period}")
        chosen = "（窗口由分析人员指定）" if self.chosen else ""
        return "；".join(parts) + "。" + chosen


def _check_chosen(periods: list[str], windows: Mapping[int, tuple[str, str]] | None,
                  rank_period: str | None) -> None:
    for r, w in (windows or {}).items():
        if r not in CHANGE_WINDOWS:
            raise ScopeError(f"windows: round {r!r} is not 1 or 2")
        if len(w) != 2:
            raise ScopeError(f"windows[{r}] = {w!r}: give (start, end) half-years like ('2011H2', '2013H1')")
        a, b = (str(x) for x in w)
        absent = [p for p in (a, b) if p not in periods]
        if absent:
            raise ScopeError(f"windows[{r}] = ({a!r}, {b!r}): {absent} not in the data; "
                             f"half-years present: {periods[0]}–{periods[-1]}")
        if period_index(b) <= period_index(a):
            raise ScopeError(f"windows[{r}] = ({a!r}, {b!r}): the end must come after the start")
    if rank_period is not None and rank_period not in periods:
        raise ScopeError(f"rank_period {rank_period!r} is not in the data; half-years present: "
                         f"{periods[0]}–{periods[-1]}")


def delivery_scope(
    periods: Iterable[str],
    roster_rounds: Iterable[int] = (),
    *,
    windows: Mapping[int, tuple[str, str]] | None = None,
    rank_period: str | None = None,
) -> Scope:
    """The scope of a delivery from its half-years and the rounds of its roster.

    Parameters
    ----------
    periods : half-year labels of the panel (any order, repeats allowed).
    roster_rounds : rounds named in the residency roster; empty = no roster.
    windows : round → ``(start, end)`` chosen by the analyst; replaces that round's span and
        change window (other rounds keep theirs; lengths are then not equalised).
    rank_period : ranking half-year chosen by the analyst.

    Returns
    -------
    Scope

    Raises
    ------
    ScopeError
        No half-year at all, or a chosen window or ranking period not in the data.
    """
    present = sorted({str(p) for p in periods if isinstance(p, str) and p}, key=period_index)
    if not present:
        raise ScopeError("the panel has no half-year; run `python -m analysis clean` on a delivery with data")
    _check_chosen(present, windows, rank_period)
    rounds_in_roster = tuple(sorted({int(r) for r in roster_rounds}))
    has_roster = bool(rounds_in_roster)
    chosen_w = {int(r): (str(a), str(b)) for r, (a, b) in (windows or {}).items()}
    chosen_rank = rank_period

    spans: dict[int, tuple[str, str]] = {}
    for r in sorted(CHANGE_WINDOWS):
        s = chosen_w.get(r) or _span(present, r)
        if s is not None:
            spans[r] = s
    complete = {r: r in chosen_w or s[1] == CHANGE_WINDOWS[r]["round"][1] for r, s in spans.items()}

    change = dict(spans)
    notes: list[str] = []
    if len(spans) > 1 and not chosen_w:
        lengths = {r: period_index(b) - period_index(a) for r, (a, b) in spans.items()}
        shortest = min(lengths.values())
        for r, (a, b) in spans.items():
            if lengths[r] > shortest:
                target = period_index(a) + shortest
                ends = [p for p in present if period_index(a) < period_index(p) <= target]
                # a delivery without any half-year in that stretch keeps the round's own span
                if ends:
                    change[r] = (a, ends[-1])
    after: dict[int, tuple[str, str]] = {}
    if change and not chosen_w:
        for r, (a, b) in change.items():
            nxt = period_label(period_index(CHANGE_WINDOWS[r]["round"][1]) + 1)
            if b == CHANGE_WINDOWS[r]["round"][1] and nxt in present:
                after[r] = (a, nxt)
        if set(after) != set(change):
            after = {}

    did: dict[int, tuple[str, str]] = {}
    for r in rounds_in_roster:
        if r not in DID_WINDOWS:
            continue
        lo, hi = (period_index(p) for p in DID_WINDOWS[r])
        inside = [p for p in present if lo <= period_index(p) <= hi]
        usable = [b for b in ROUND_BATCHES[r][:-1]
                  if b in inside and period_label(period_index(b) - 1) in inside]
        if usable:
            did[r] = (inside[0], inside[-1])

    if rank_period is None:
        latest = max(spans) if spans else None
        rank_period = spans[latest][1] if latest is not None else present[-1]

    skipped: dict[str, str] = {}
    one = len(present) == 1
    one_note = (f"本次数据只有一个半年（{present[0]}）：只做数据质量检查和该期的排名快照，"
                "走势、变化、两轮比较和驻点效应都需要更多半年的数据。")
    if one:
        notes.append(one_note)
        skipped["trends"] = one_note

    def gap(text: str) -> str:
        """The reason a part is left out: with one half-year the one-half-year note (said once,
        above), else ``text``, said here."""
        if one:
            return one_note
        notes.append(text)
        return text

    if not has_roster:
        notes.append(NO_ROSTER_NOTE)
        skipped["design"] = NO_ROSTER_NOTE
    if not spans:
        why = gap("本次数据没有覆盖任何一轮驻点的前后（每轮需要驻点开始前的一个半年和开始后的"
                  "至少一个半年），不计算各轮变化和轮末达标情况。")
        skipped["round_change"] = why
        skipped["compliance"] = why
    if len(spans) < 2:
        if len(spans) == 1:
            (r,) = spans
            why = (f"本次数据只覆盖{ROUND_NAMES_ZH[r]}（{_window(*spans[r])}），"
                   "不做两轮比较。")
            notes.append(why)
        else:
            why = skipped["round_change"]
        skipped["round_comparison"] = why
    for r in sorted(spans):
        if not complete[r]:
            notes.append(f"{ROUND_NAMES_ZH[r]}的数据截至{spans[r][1]}（该轮到{CHANGE_WINDOWS[r]['round'][1]}"
                         f"结束），{ROUND_NAMES_ZH[r]}的窗口取{_window(*spans[r])}。")
    cut = [r for r in sorted(change) if change[r] != spans[r]]
    if cut:
        notes.append("为使两轮的变化窗口等长，" + "，".join(
            f"{ROUND_NAMES_ZH[r]}取{_window(*change[r])}" for r in cut) + "。")
    if not has_roster:
        skipped["effects"] = NO_ROSTER_NOTE
        skipped["round_difference"] = NO_ROSTER_NOTE
    else:
        if not did:
            why = gap("本次数据在各轮驻点开始前后的半年不足（每轮需要某一批开始的半年及其前一个半年），"
                      "无法估计驻点效应。")
            skipped["effects"] = why
            skipped["round_difference"] = why
        elif len(did) < 2:
            if len(spans) < 2:
                skipped["round_difference"] = skipped["round_comparison"]
            else:
                (r,) = did
                other = 2 if r == 1 else 1
                why = (f"只有{ROUND_NAMES_ZH[r]}能估计驻点效应（{ROUND_NAMES_ZH[other]}驻点开始前后的半年不足"
                       "或名册中没有该轮），不计算两轮效应之差。")
                notes.append(why)
                skipped["round_difference"] = why
    return Scope(
        periods=tuple(present), has_roster=has_roster, roster_rounds=rounds_in_roster, spans=spans,
        complete=complete, change=change, after=after, did=did, rank_period=rank_period,
        chosen={**({"windows": chosen_w} if chosen_w else {}),
                **({"rank_period": chosen_rank} if chosen_rank else {})},
        notes=tuple(notes), skipped=skipped,
    )


def read_scope(processed_dir: str | Path, *, windows: Mapping[int, tuple[str, str]] | None = None,
                      rank_period: str | None = None) -> Scope:
    """:func:`delivery_scope` of the processed data of ``python -m analysis clean``.

    Parameters
    ----------
    processed_dir : folder of ``panel.parquet`` (required) and ``roster.parquet`` (optional).
    windows, rank_period : the analyst's choices, see :func:`delivery_scope`.

    Returns
    -------
    Scope
    """
    folder = Path(processed_dir)
    panel = pd.read_parquet(folder / "panel.parquet", columns=["period"])
    roster_path = folder / "roster.parquet"
    rounds: list[int] = []
    if roster_path.is_file():
        roster = pd.read_parquet(roster_path)
        rounds = rounds_in_roster(roster)
    return delivery_scope(panel["period"].dropna().astype(str), rounds, windows=windows,
                          rank_period=rank_period)


def rounds_in_roster(roster: pd.DataFrame | None) -> list[int]:
    """Rounds named by the rows of a roster (its 轮次 or sheet name); [] for none or an empty one."""
    from analysis.design import roster_round

    if roster is None or roster.empty:
        return []
    given = roster["round"] if "round" in roster else pd.Series(None, index=roster.index, dtype=object)
    sheet = roster["source_sheet"] if "source_sheet" in roster else pd.Series(None, index=roster.index, dtype=object)
    found = {roster_round(r, s) for r, s in zip(given, sheet)}
    return sorted(r for r in found if r in ROUND_BATCHES)
