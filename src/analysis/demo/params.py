"""Every parameter of the demo data generator, in one place.

Values are chosen to look like Sichuan's county League committees of 2008–2014 (orders of
magnitude from public yearbooks and League notices; exact numbers are invented).  Latent effects
are on the scale named in :data:`EFFECTS` (``log``: multiplicative on the mean of a count;
``logit``: on the log-odds of a share, a rate or, for 是/否 indicators, of switching to 是).
``docs/demo-data.md`` describes the same numbers in prose; change both together.
"""

from __future__ import annotations

import datetime as dt

DEFAULT_SEED: int = 20120215
"""Seed of the committed demo data (the day round 2 was opened, 2012-02-15)."""

FIXED_CREATED = dt.datetime(2014, 7, 15, 9, 0, 0)
"""``created`` property written into every workbook, so regeneration is byte-identical."""

# --- calendar ------------------------------------------------------------------------------
PERIODS: tuple[str, ...] = tuple(f"{y}H{h}" for y in range(2008, 2015) for h in (1, 2))
ROUND_BATCHES: dict[int, tuple[str, ...]] = {
    1: ("2008H2", "2009H1", "2009H2", "2010H1"),
    2: ("2012H1", "2012H2", "2013H1", "2013H2"),
}
# Round-2 stints run Feb–Jul / Aug–Jan, i.e. one month after the half-year [seed].
ROUND2_STINTS: dict[int, tuple[dt.date, dt.date]] = {
    1: (dt.date(2012, 2, 1), dt.date(2012, 7, 31)),
    2: (dt.date(2012, 8, 1), dt.date(2013, 1, 31)),
    3: (dt.date(2013, 2, 1), dt.date(2013, 7, 31)),
    4: (dt.date(2013, 8, 1), dt.date(2014, 1, 31)),
}
FIRST_ROUND2_TEMPLATE = "2012H1"
"""Periods from here on are reported on the round-2 form (adds weak_orgs, youth_models)."""

# --- scale and context -----------------------------------------------------------------------
YOUTH_MEDIAN = 110_000          # 人, 14–35-year-olds in a typical county
YOUTH_LOG_SD = 0.55
YOUTH_THREE_PREF_FACTOR = 0.30  # 甘孜/阿坝/凉山 counties are far smaller
YOUTH_MIN, YOUTH_MAX = 20_000, 400_000
YOUTH_TREND = -0.012            # per half-year: out-migration of the young
YOUTH_NOISE_SD = 0.008

TOWNSHIPS_MEDIAN = 22           # 个
TOWNSHIPS_LOG_SD = 0.35
TOWNSHIPS_SIZE_ELASTICITY = 0.30
TOWNSHIPS_MIN, TOWNSHIPS_MAX = 6, 80

FIRMS_PER_YOUTH = 1 / 1_300     # 规模以上非公企业 per young person
FIRMS_THREE_PREF_FACTOR = 0.25
FIRMS_TREND = 0.03
FIRMS_PREF_SD = 0.35

POSTS_CHOICES = (3, 4, 5, 6, 7, 8, 9, 10, 12)   # 核定编制, larger counties get more
POSTS_THREE_PREF_MAX = 7
POSTS_RAISE_PROB = 0.10          # share of counties whose establishment grows by 1 in 2012

# --- how much of the variance sits where (log or logit scale) --------------------------------
PREFECTURE_SD = 0.15
COUNTY_SD = 0.30
TIME_SHOCK_SD = 0.03             # common to all counties in a half-year
NOISE_SD = 0.08                  # county × half-year, on top of Poisson / binomial noise

# Baselines per indicator, model in {"poisson", "binomial", "rate", "bool", "money"}:
#   poisson : mean = per × base_of ** elasticity (base_of: youth or townships)
#   binomial: share (logit centre) of the parent count ``of``
#   rate    : percent, logit centre
#   bool    : initial probability p0 and per-half-year hazard of switching to 是
#   money   : 元 per young person, stored in 万元
BASELINES: dict[str, dict] = {
    "league_orgs": dict(model="poisson", base="youth", per=1 / 260, trend=0.010),
    "league_members": dict(model="poisson", base="youth", per=0.17, trend=0.004),
    "members_recruited": dict(model="poisson", base="youth", per=0.0055, trend=0.0),
    "dues_rate": dict(model="rate", centre=80.0, trend=0.03),
    "nonpublic_firms_with_org": dict(model="binomial", of="nonpublic_firms", share=0.30, trend=0.06),
    "townships_active": dict(model="binomial", of="townships_total", share=0.50, trend=0.04),
    "weak_orgs": dict(model="binomial", of="league_orgs", share=0.09, trend=-0.03),
    "volunteers": dict(model="poisson", base="youth", per=0.035, trend=0.05),
    "posts_filled": dict(model="binomial", of="posts_authorized", share=0.78, trend=0.02),
    "townships_with_secretary": dict(model="binomial", of="townships_total", share=0.60, trend=0.05),
    "fulltime_cadres": dict(model="poisson", base="townships", per=1.6, trend=0.01),
    "parttime_cadres": dict(model="poisson", base="townships", per=6.0, trend=0.01),
    "cadres_placed": dict(model="poisson", base="townships", per=0.9, trend=0.0),
    "cadres_trained": dict(model="poisson", base="townships", per=7.0, trend=0.02),
    "attends_party_meetings": dict(model="bool", p0=0.20, hazard=0.04, off=0.02, trend=0.03),
    "liaison_system": dict(model="bool", p0=0.20, hazard=0.04, off=0.02, trend=0.03),
    "in_party_assessment": dict(model="bool", p0=0.25, hazard=0.04, off=0.02, trend=0.03),
    "party_documents": dict(model="poisson", base="one", per=0.9, trend=0.02),
    "townships_funded": dict(model="binomial", of="townships_total", share=0.30, trend=0.05),
    "league_funds": dict(model="money", per_youth=0.42, trend=0.04),
    "orgs_established": dict(model="poisson", base="townships", per=0.9, trend=0.0),
    "youth_models": dict(model="poisson", base="townships", per=1.2, trend=0.03),
}

# --- planted effects ------------------------------------------------------------------------
# indicator -> (scale, round-1 size, round-2 size).  Indicators not listed have no effect at all
# (volunteers, league_orgs, parttime_cadres and the context indicators).
EFFECTS: dict[str, tuple[str, float, float]] = {
    # vitality: round 1 (covering every county for the first time) did more here
    "members_recruited": ("log", 0.20, 0.12),
    "league_members": ("log", 0.05, 0.04),
    "dues_rate": ("logit", 0.30, 0.15),
    "nonpublic_firms_with_org": ("logit", 0.35, 0.45),
    "townships_active": ("logit", 0.40, 0.40),
    "weak_orgs": ("logit", 0.0, -0.45),      # lower is better; collected in round 2 only
    # staffing: round 2 made 抓好团干部配备 one of its five tasks
    "posts_filled": ("logit", 0.30, 0.60),
    "townships_with_secretary": ("logit", 0.35, 0.60),
    "fulltime_cadres": ("log", 0.08, 0.12),
    "cadres_placed": ("log", 0.20, 0.35),
    "cadres_trained": ("log", 0.25, 0.30),
    # tasks (党建带团建): the core of round 2
    "attends_party_meetings": ("logit", 1.20, 1.60),
    "liaison_system": ("logit", 1.20, 1.60),
    "in_party_assessment": ("logit", 0.90, 1.40),
    "party_documents": ("log", 0.30, 0.50),
    "townships_funded": ("logit", 0.30, 0.50),
    "league_funds": ("log", 0.10, 0.12),
    "orgs_established": ("log", 0.25, 0.35),
    "youth_models": ("log", 0.0, 0.40),
}
NO_EFFECT: tuple[str, ...] = ("volunteers", "league_orgs", "parttime_cadres")

# Dynamics by event time e (half-years since the batch start; the official is there at e = 0).
RAMP: dict[int, float] = {0: 0.6, 1: 1.0}
PERSIST = 0.5          # share of the peak that stays for good after the official has left
FADE = 0.5             # the rest halves every half-year from e = 2 on

# Heterogeneity multipliers.
THREE_PREF_MULTIPLIER: dict[str, float] = {"vitality": 0.5, "staffing": 1.4, "tasks": 1.0}
PROVINCIAL_MULTIPLIER = 1.3      # official sent by 团省委 rather than a prefecture committee
PROVINCIAL_SHARE = 0.30
OFFICIAL_SD = 0.25               # log-sd of an official's own effectiveness
TASK_SD = 0.20                   # extra log-sd per round-2 task

# Round-2 five tasks and the indicators through which each acts [seed].
TASKS: dict[str, tuple[str, ...]] = {
    "推动党建带团建制度的落实": ("attends_party_meetings", "liaison_system", "in_party_assessment",
                        "party_documents", "league_funds"),
    "抓好团干部配备": ("posts_filled", "townships_with_secretary", "fulltime_cadres",
                "cadres_placed", "cadres_trained"),
    "推动建立团组织": ("orgs_established", "nonpublic_firms_with_org", "weak_orgs"),
    "指导乡镇、街道团的工作": ("townships_active", "townships_funded"),
    "挖掘联系青年典型和青年能人": ("youth_models",),
}
TASK_RATING_CUTS = (0.80, 1.05)  # task multiplier < 0.80 未完成, < 1.05 基本完成, else 完成
GRADE_SCORE = dict(centre=84.0, per_log_sd=10.0, noise_sd=4.0)  # 优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范廖石金韦贾夏付方邹熊白孟秦邱侯江尹"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力林斌宇浩凯鹏晨俊帆鑫波雪琳婷欣瑶然宁亮峰浩川蓉渝"

# --- raw-file formats by prefecture (short name) ---------------------------------------------
# Everyone else sends a prefecture summary workbook (.xlsx).
PREFECTURE_FORMATS: dict[str, str] = {
    "甘孜": "county_sheets",   # one workbook, a sheet per county (county form)
    "雅安": "county_files",    # one county form workbook per county
    "眉山": "csv_gbk",
    "资阳": "csv_gb18030",
    "遂宁": "csv_utf8_bom",
    "巴中": "xls_round1",      # .xls (Excel 97–2003) while the round-1 form was in use
    "广元": "xls_round1",
}

# --- mess: how often each kind of loose value is written --------------------------------------
MESS_RATES: dict[str, float] = {
    "placeholder": 0.006,        # —, /, 无, 暂无, blank instead of a number (truth unknown)
    "number_with_text": 0.008,   # 约300, 300人
    "fullwidth_digits": 0.006,   # ３００
    "county_name": 0.15,         # 凉山州喜德县, 喜德, 喜 德县, full-width
    "excel_error": 0.008,        # #DIV/0! cached in a rate formula
}
YES_NO_WORDS = {1: ("是", "有", "√", "已建立"), 0: ("否", "无", "×", "未建立")}
YES_NO_WORD_WEIGHTS = (0.70, 0.12, 0.10, 0.08)
PERCENT_STYLES = ("number", "percent_string", "fraction")   # 85 / "85%" / 0.85
PERCENT_STYLE_WEIGHTS = (0.7, 0.2, 0.1)
YUAN_FILES_SHARE = 0.06          # summary workbooks whose funds header says 元 (values in 元)
NOTE_COLUMN_SHARE = 0.25         # summary workbooks with an extra 备注 column
SHUFFLED_ROWS_SHARE = 0.20       # summary workbooks with counties out of order
HIDDEN_SHEET_SHARE = 0.10        # workbooks with a hidden draft sheet
PLACEHOLDERS = ("—", "/", "无", "暂无", "")
