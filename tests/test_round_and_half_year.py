"""One reading of a round from a sheet name and one Chinese half-year label, shared by every
module that needs them (roster reader, design, summaries; chart notes, clerks' messages, the
demo generator's folders)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from analysis import design
from analysis import summaries as s
from analysis.ingest.periods import half_year_label
from analysis.ingest.prepare import _note_zh
from analysis.ingest.roster import round_from_text

SHEETS = ["第一轮（2008-2010）", "第 2 轮", "Round 1", "round 2", "第二轮", "第１轮", "名册", "Sheet1", ""]


@pytest.mark.parametrize("text, expected", [
    ("第一轮（2008-2010）", 1),
    ("第二轮", 2),
    ("第 2 轮", 2),
    ("第１轮", 1),           # full-width digit, folded by NFKC
    ("Round 1", 1),
    ("驻点干部名册 round 2", 2),
    ("名册", None),
    ("Sheet1", None),
    ("", None),
    ("round 12", None),       # not round 1 followed by a 2
    ("around 1", None),       # "round" inside another word
    ("第十二轮", None),        # the twelfth round is not the second
    ("round2", 2),
])
def test_round_from_text(text, expected):
    assert round_from_text(text) == expected


def test_design_reads_the_round_of_a_sheet_as_the_roster_reader_does():
    for sheet in SHEETS:
        assert design.roster_round(None, sheet) == round_from_text(sheet), sheet
    # a 轮次 column still wins over the sheet name
    assert design.roster_round(2, "第一轮") == 2


def test_summaries_read_the_round_of_a_sheet_as_the_roster_reader_does():
    named = [t for t in SHEETS if round_from_text(t) is not None]
    roster = pd.DataFrame({"round": [None] * len(named), "batch": [1] * len(named),
                           "assessment": ["优秀"] * len(named), "source_sheet": named,
                           "source_row": range(4, 4 + len(named))})
    out = s.prepare_roster(roster)
    assert out["round"].tolist() == [round_from_text(t) for t in named] == [1, 2, 1, 2, 2, 1]
    with pytest.raises(s.SummaryInputError, match="names no round"):
        s.prepare_roster(roster.assign(source_sheet="名册"))


@pytest.mark.parametrize("period, label", [
    ("2012H1", "2012年上半年"),
    ("2014H2", "2014年下半年"),
    ("2013h2", "2013年下半年"),
    (" 2008H1 ", "2008年上半年"),
    ("2013年", "2013年"),      # not a half-year: unchanged
    ("2012H3", "2012H3"),
    ("12H1", "12H1"),
])
def test_half_year_label(period, label):
    assert half_year_label(period) == label


def test_every_half_year_label_is_the_same_one():
    from analysis import style
    from analysis.demo import forms

    for p in ("2008H1", "2011H2", "2014H2", "2013年"):
        assert style.period_label(p) == half_year_label(p)
    assert forms._half_dir("2012H1") == "2012年上半年"
    # the clerk's message names the periods of a reader's note in Chinese
    assert _note_zh("file says 2012H1, title says 2013H2 — 请核对期间") == (
        "涉及的期间：2012年上半年、2013年下半年；请核对期间")


def test_the_ingest_pipeline_does_not_import_matplotlib():
    # the ingest workers are forked from the parent: plotting modules must stay out of them
    code = "import analysis.ingest.pipeline, sys; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
