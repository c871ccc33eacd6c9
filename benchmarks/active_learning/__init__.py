"""The public active-learning benchmark of sktangent (see benchmarks/README.md).

``data`` holds the data sets, the models and the split of one seed;
``strategies`` the registry of query strategies; ``protocol`` the loop, its
parallel run and the raw results in JSON; ``report`` the statistics, the
markdown tables and the plot. ``bench_active_learning.py`` is the command.
"""
