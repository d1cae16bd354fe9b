"""The six notebooks on partial deliveries (issue 16): they execute and say what they leave out.

Three deliveries of the matrix (:mod:`scenarios`) run in the default suite: ``no_roster`` and
``upto_2013H1`` here, through :func:`analysis.notebook_export.export_notebooks`, and
``one_half_year`` through the main job itself (``test_scenarios_main_job.py``).  The other four run
on demand (``pytest --scenario-notebooks``).  The notebooks get ``DRAWS = 19`` (papermill-style
injection): the numbers are not under test here.
"""

from __future__ import annotations

import pytest

from analysis.notebook_export import export_notebooks
from scenarios import NOTEBOOKS, SCENARIOS, check_notebooks


@pytest.mark.parametrize("name", ["no_roster", "upto_2013H1"])
def test_notebooks_execute_and_state_what_is_missing(name, delivery, tmp_path):
    _, processed = delivery(name)
    export_notebooks(NOTEBOOKS, tmp_path, processed, parameters={"DRAWS": 19})
    check_notebooks(name, tmp_path)


@pytest.mark.scenario_notebooks
@pytest.mark.parametrize("name", [d.name for d in SCENARIOS
                                  if d.name not in ("no_roster", "upto_2013H1", "one_half_year")])
def test_notebooks_on_the_rest_of_the_matrix(name, delivery, tmp_path):
    _, processed = delivery(name)
    export_notebooks(NOTEBOOKS, tmp_path, processed, parameters={"DRAWS": 19})
    check_notebooks(name, tmp_path)
