"""Recordings, firing statistics, plots and the HTML report of a run (see the manual's
tutorial on plots and the report). Importing this package is cheap; matplotlib loads only for plots."""

from .api import plot, record, report  # noqa: E402

__all__ = ["plot", "record", "report"]
