"""Evaluation of Sichuan's county residency programme (驻点工作).

The data flow, one module per step (each imports only from steps before it)::

    config, catalog, reference      paths, indicator catalog, county code books and resolver
    demo                            synthetic submissions with a planted truth
    ingest (read → layout → values/periods → validate → pipeline → outputs)
                                    messy workbooks → tidy, audited data in data/processed
    indicators, indices             derived rates and standards; indices, weights, grades, rank intervals
    design, scope                   programme calendar; the windows and parts a delivery allows
    compare, did, evaluate          round 1 vs round 2; staggered DiD
    fonts, style, charts, maps      Chinese report charts
    export, report                  xlsx tables, 图表汇编.docx, index.html; the chart pack
    summaries, notebook_export      helpers for the notebooks; HTML export of executed notebooks
    kernel_log                      quiets one kernel start-up warning (loaded inside the kernels)
    cli                             ``python -m analysis`` (console script ``residency``)
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
