"""What every benchmark prints first: versions, cores, load and thread pools.

Timings mean little without them. The benchmark scripts import this module
from their own folder (``python benchmarks/bench_*.py`` puts it on the path).
"""

import os
import platform

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info

import sktangent


def load_average():
    """The 1-minute load average: above the core count, timings are suspect."""
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    return f"1-min load average {os.getloadavg()[0]:.2f}"


def print_environment():
    """Versions, cores, load and the BLAS/OpenMP thread pools."""
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(
        f"sktangent {sktangent.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}"
    )
    print(f"os.cpu_count() = {os.cpu_count()}, {load_average()}")
    for pool in threadpool_info():
        print(
            f"threadpool: {pool['user_api']}/{pool['internal_api']} "
            f"num_threads={pool['num_threads']} ({os.path.basename(pool['filepath'])})"
        )
    print()
