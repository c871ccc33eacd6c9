"""Thread pools around small LAPACK calls."""

import contextlib

from threadpoolctl import ThreadpoolController

# Factorisations up to this order run LAPACK on one thread.
_ONE_THREAD_MAX_ORDER = 1000
_threadpools = []


def blas_threads(order):
    """A context for a LAPACK call on a matrix of this order.

    numpy and scipy may each load their own OpenBLAS. Its worker threads
    keep spinning for a while after a product, so the other library's
    threads, started right after (the factorisation after numpy formed
    ``X' D X``), share the cores with them: a 1000 x 1000 Cholesky measured
    80-100 ms that way on two cores against 11 ms on one thread. Up to
    ``_ONE_THREAD_MAX_ORDER`` the call runs on one thread, which
    also leaves no spinning threads behind; larger ones keep the pools as
    they are.
    """
    if order > _ONE_THREAD_MAX_ORDER:
        return contextlib.nullcontext()
    if not _threadpools:
        _threadpools.append(ThreadpoolController())
    return _threadpools[0].limit(limits=1, user_api="blas")
