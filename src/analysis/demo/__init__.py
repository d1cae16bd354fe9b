"""Demo data: realistic county submissions with a planted truth.

``generate(out_dir, seed)`` writes raw files like those the prefectures send (summary workbooks,
county forms, CSV exports, .xls, the residency roster), full of the usual mess;
``truth(seed)`` returns what is really behind them: clean values, true effects of each round,
the batch design, the roster, and a table of every mess and bad record the generator made.
See ``docs/demo-data.md`` for the data-generating process and every parameter.
"""

from analysis.demo.generator import DemoTruth, build, generate, truth, write_books
from analysis.demo.params import DEFAULT_SEED
from analysis.demo.units import DemoError, UnitSource

__all__ = ["DEFAULT_SEED", "DemoError", "DemoTruth", "UnitSource", "build", "generate", "truth", "write_books"]
