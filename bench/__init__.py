"""Benchmarks for `campaign`: run by hand (`python -m bench.<name>`), never timed asserts.

Each script prints a table of figures next to a baseline measured in the same run,
as medians of several runs and ratios, because the machine they run on may be shared.
"""
