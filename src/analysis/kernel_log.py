"""A logging filter for the Jupyter kernels the main job starts (imported inside each kernel).

ipykernel logs one warning at every start when its sockets listen on local TCP ports, "Kernel is
running over TCP without encryption" (``ipykernel.kernelapp.IPKernelApp.init_sockets``).  The
main job starts six kernels on the analyst's own machine, so the console showed that warning six
times on every run.  :class:`KernelLogFilter` drops that one message and nothing else; it lives in
this small module because the kernel imports it by name before it runs any cell (importing
:mod:`analysis.notebook_export` there would load nbconvert into every kernel).
"""

from __future__ import annotations

import logging

__all__ = ["UNENCRYPTED_TCP", "KernelLogFilter"]

UNENCRYPTED_TCP = "running over TCP without encryption"
"""The text of ipykernel's start-up warning that :class:`KernelLogFilter` drops."""


class KernelLogFilter(logging.Filter):
    """Drops ipykernel's "Kernel is running over TCP without encryption" warning, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return UNENCRYPTED_TCP not in record.getMessage()
