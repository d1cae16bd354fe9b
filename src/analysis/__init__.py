"""Evaluation of Sichuan's county residency programme (驻点工作).

The data flow, one module per step (each imports only from steps before it)::

    config, catalog, reference      paths, indicator catalog, county code books
    demo                            synthetic submissions with a planted truth
    ingest → clean                  messy workbooks → tidy, audited panel
    indices                         composite indices, grades, rankings
    compare, did                    round 1 vs round 2, staggered DiD
    fonts, style, charts            Chinese report charts
    report                          chart pack, tables, notebooks export
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
