"""analysis.scope: windows and parts from a delivery's half-years (expected values from the calendar
of docs/methods.md §0, worked out by hand)."""

from __future__ import annotations

import pytest

from analysis.scope import NO_ROSTER_NOTE, ScopeError, delivery_scope

ALL = [f"{y}H{h}" for y in range(2008, 2015) for h in (1, 2)]


def upto(last: str) -> list[str]:
    return ALL[:ALL.index(last) + 1]


def test_whole_calendar_gives_the_calendar_windows():
    s = delivery_scope(ALL, [1, 2])
    assert s.spans == s.change == {1: ("2008H1", "2010H2"), 2: ("2011H2", "2014H1")}
    assert s.after == {1: ("2008H1", "2011H1"), 2: ("2011H2", "2014H2")}
    assert s.did == {1: ("2008H1", "2009H2"), 2: ("2011H2", "2013H1")}
    assert s.rank_period == "2014H1" and s.round_ends == {1: "2010H2", 2: "2014H1"}
    assert s.skipped == {} and s.notes == ()


def test_mid_round_2_cuts_round_1_to_the_same_length():
    s = delivery_scope(upto("2012H2"), [1, 2])
    # round 2: 2011H2 → 2012H2 is two half-years; round 1 from 2008H1 two half-years on: 2009H1
    assert s.change == {1: ("2008H1", "2009H1"), 2: ("2011H2", "2012H2")}
    assert s.spans[1] == ("2008H1", "2010H2") and s.round_ends == {1: "2010H2", 2: "2012H2"}
    assert s.after == {}  # round 2 has no "after"
    # DiD of round 2 up to 2012H2: batch 1 (2012H1) and 2 (2012H2) against batches 3–4
    assert s.did[2] == ("2011H2", "2012H2")
    assert s.rank_period == "2012H2" and s.complete == {1: True, 2: False}
    assert s.round_label(2) == "第二轮（截至2012H2）"


def test_round_2_baseline_falls_back_to_2011h1_but_never_into_round_1():
    periods = [p for p in ALL if p != "2011H2"]
    assert delivery_scope(periods, [1, 2]).spans[2] == ("2011H1", "2014H1")
    # without 2011H1 and 2011H2 the last half-year before round 2 is 2010H2, round 1's end: no baseline
    s = delivery_scope([p for p in periods if p != "2011H1"], [1, 2])
    assert 2 not in s.spans and s.why("round_comparison") == "本次数据只覆盖第一轮（2008H1→2010H2），不做两轮比较。"


def test_did_needs_a_batch_start_and_the_half_year_before():
    # round 2 from 2012H2 on: batch 2 (2012H2) has no 2012H1 before it in the data, batch 3 (2013H1)
    # has 2012H2 → estimable
    assert delivery_scope(ALL[ALL.index("2012H2"):], [2]).did == {2: ("2012H2", "2013H1")}
    # only 2013H1 and later inside round 2's DiD window (ends 2013H1): nothing estimable
    s = delivery_scope(ALL[ALL.index("2013H1"):], [2])
    assert s.did == {} and not s.can("effects")


def test_without_roster_effects_and_batches_are_said_missing():
    s = delivery_scope(ALL, [])
    assert s.did == {} and not s.has_roster and s.batch_rounds == ()
    for part in ("effects", "round_difference", "design"):
        assert s.why(part) == NO_ROSTER_NOTE
    assert s.can("round_comparison") and s.notes == (NO_ROSTER_NOTE,)
    assert s.roster_note(2) == NO_ROSTER_NOTE


def test_one_half_year_is_a_snapshot():
    s = delivery_scope(["2013H1"] * 3, [1, 2])
    assert s.periods == ("2013H1",) and s.spans == {} and s.rank_period == "2013H1"
    assert set(s.skipped) == {"trends", "round_change", "round_comparison", "compliance", "effects",
                              "round_difference"}
    assert s.windows_text() == "数据时期：2013H1（1个半年）；排名时期：2013H1。"
    assert s.missing_round(2) == ("本次数据没有覆盖第二轮（需要2012H1以前的一个半年和2012H1–2014H1中至少一个半年），"
                                  "本节从略。")


def test_analyst_choices_replace_the_derived_windows():
    s = delivery_scope(ALL, [1, 2], windows={2: ("2012H1", "2013H2")}, rank_period="2013H2")
    assert s.change == {1: ("2008H1", "2010H2"), 2: ("2012H1", "2013H2")}  # not equalised
    assert s.rank_period == "2013H2" and s.after == {}
    assert s.windows_text().endswith("排名时期：2013H2。（窗口由分析人员指定）")


@pytest.mark.parametrize("windows, rank, message", [
    ({2: ("2011H2", "2015H1")}, None, r"\['2015H1'\] not in the data"),
    ({2: ("2013H1", "2012H1")}, None, "the end must come after the start"),
    ({3: ("2011H2", "2013H1")}, None, "round 3 is not 1 or 2"),
    (None, "2016H2", "rank_period '2016H2' is not in the data"),
])
def test_a_choice_outside_the_data_is_an_error(windows, rank, message):
    with pytest.raises(ScopeError, match=message):
        delivery_scope(ALL, [1, 2], windows=windows, rank_period=rank)


def test_no_half_year_and_unknown_part_are_errors():
    with pytest.raises(ScopeError, match="no half-year"):
        delivery_scope([], [1])
    with pytest.raises(ScopeError, match="unknown part"):
        delivery_scope(ALL, [1]).can("nonsense")


def test_round_end_labels():
    s = delivery_scope(upto("2013H1"), [1, 2])
    assert (s.round_end_label(1), s.round_end_label(2)) == ("第一轮末", "第二轮截至2013H1")
    assert s.round_ends_text() == "轮末：第一轮2010H2，第二轮尚未结束（数据截至2013H1）。"


def test_equalising_skips_a_stretch_without_data():
    # round 2 up to 2012H1 (one half-year after its baseline); round 1 has nothing in 2008H2, so
    # its window cannot be cut to one half-year and keeps its own span (no error)
    periods = [p for p in upto("2012H1") if p != "2008H2"]
    s = delivery_scope(periods, [1, 2])
    assert s.change == {1: ("2008H1", "2010H2"), 2: ("2011H2", "2012H1")}
