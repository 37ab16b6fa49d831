"""Recordings, firing statistics, plots and the HTML report of a run (see the manual's
tutorial on plots and the report). Importing this package is cheap; matplotlib loads only for plots."""
