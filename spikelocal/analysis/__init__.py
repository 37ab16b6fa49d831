"""Recordings, firing statistics, plots and the HTML report of a run (see README,
"Recordings and plots"). Importing this package is cheap; matplotlib loads only for plots."""
