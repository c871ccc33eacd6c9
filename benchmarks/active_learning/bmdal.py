"""Adapter to the batch selection methods of bmdal-reg.

bmdal-reg (Holzmueller et al., "A Framework and Benchmark for Deep Batch
Active Learning for Regression", JMLR 2023) selects a batch with
``bmdal_reg.bmdal.algorithms.select_batch`` from a base kernel, a list of
kernel transforms and a selection method. This module runs its methods
with base kernel ``"linear"`` (the linear kernel on the rows it is given)
on the features of the benchmark's fixed-feature model:

* ``kernel=None``: the inputs as the benchmark passes them (standardised),
  plus a column of ones when the model fits an intercept;
* a kernel model (``kernel="rbf"`` in the benchmark): Nystroem features of
  the model's own kernel (same ``gamma``, ``degree``, ``coef0``,
  ``kernel_params``), ``n_components = min(300, n_labelled + n_pool)``,
  fitted on the labelled and pool rows together with
  ``random_state=seed``, plus the column of ones as above.

The column of ones stands for the model's intercept, as the last-layer
('ll') kernel of bmdal-reg's networks carries the bias of the last layer.
Its prior variance is 1 like that of every other feature (the model's own
intercept is unpenalised). The features are passed as float64 tensors.

The three methods are the configurations of bmdal-reg's own experiment list
(``bmdal_reg.run_experiments.get_bmdal_configs``, names
``maxdet-p_linear_train``, ``lcmd-tp_linear`` and ``bait-f-p_linear_train``)
with its default noise ``sigma = 0.1``:

=========== ================ ============== ==============================
method      selection_method sel_with_train kernel_transforms
=========== ================ ============== ==============================
"maxdet-p"  "maxdet"         False (P)      [("train", [0.1, None])]
"lcmd"      "lcmd"           True (TP)      []
"bait-p"    "bait"           False (P)      [("train", [0.1, None])]
=========== ================ ============== ==============================

with ``maxdet_sigma=0.1`` (MAXDET-P), ``bait_sigma=0.1`` and
``overselection_factor=1.0`` (BAIT-P, the forward-only BAIT-F-P), and
``allow_float64=True`` for all three. ``("train", [sigma, None])`` is the
paper's transform to the labelled rows: the linear kernel is first scaled
so that its mean diagonal over the labelled rows is 1 (the ``None``:
bmdal-reg's automatic scale normalisation, ``c = 1 / mean_L phi^T phi``),
then conditioned on the labelled rows as a Gaussian process with noise
variance ``sigma**2``. So ``sigma`` is in units of that scaled kernel, and
MAXDET-P with one pick is the pool point of largest posterior variance
``sigma**2 c phi(x)^T (c Phi_L^T Phi_L + sigma**2 I)^{-1} phi(x)``; its
later picks condition on the earlier ones with the same noise. (The
paper's own runs used ``post_sigma=1e-3``; 0.1 is the library default.)

LCMD is the paper's LCMD-TP. The model's ``alpha`` and family do not
enter: bmdal-reg's methods use their own noise ``sigma``, independent of
the learner's fitted regularisation. The labels are not used either
(passed for completeness).

Cost per call: with 60 labelled and 4000 pool rows, a few milliseconds
for linear features; for Nystroem features mostly the Nystroem fit (an SVD
of a 300 x 300 matrix), about 0.05 to 0.2 s single-threaded. On a
machine whose cores are busy, multi-threaded OpenBLAS made that SVD take
seconds; ``OPENBLAS_NUM_THREADS=1`` avoided it.

bmdal-reg needs torch, which stays out of sktangent's dependencies: see
``benchmarks/README.md`` for the separate environment. Version 3.0.2 uses
``np.Inf``, which NumPy 2 removed, so the alias is set before the import.
"""

import warnings

import numpy as np

__all__ = ["METHODS", "SIGMA", "available", "features", "pick"]

SIGMA = 0.1  # bmdal-reg's default post_sigma in get_bmdal_configs
N_NYSTROEM = 300

METHODS = {
    "maxdet-p": dict(
        selection_method="maxdet",
        sel_with_train=False,
        kernel_transforms=[("train", [SIGMA, None])],
        maxdet_sigma=SIGMA,
    ),
    "lcmd": dict(
        selection_method="lcmd",
        sel_with_train=True,
        kernel_transforms=[],
    ),
    "bait-p": dict(
        selection_method="bait",
        sel_with_train=False,
        kernel_transforms=[("train", [SIGMA, None])],
        bait_sigma=SIGMA,
        overselection_factor=1.0,
    ),
}


def _import_bmdal():
    if not hasattr(np, "Inf"):
        np.Inf = np.inf  # noqa: NPY201 (bmdal-reg 3.0.2 uses the NumPy 1 alias)
    import torch
    from bmdal_reg.bmdal.algorithms import select_batch
    from bmdal_reg.bmdal.feature_data import TensorFeatureData

    return torch, select_batch, TensorFeatureData


def available():
    """Whether torch and bmdal_reg import (never raises)."""
    try:
        _import_bmdal()
    except Exception:
        return False
    return True


def features(model, X_labelled, X_pool, seed):
    """The float64 feature matrices bmdal-reg's linear base kernel sees.

    Returns ``(F_labelled, F_pool)``: the inputs (``model.kernel is None``)
    or Nystroem features of the model's kernel fitted on all rows, with a
    column of ones appended when ``model.fit_intercept`` is true.
    """
    X_labelled = np.asarray(X_labelled, dtype=np.float64)
    X_pool = np.asarray(X_pool, dtype=np.float64)
    n_labelled = X_labelled.shape[0]
    kernel = getattr(model, "kernel", None)
    if kernel is None:
        F = np.vstack([X_labelled, X_pool])
    elif isinstance(kernel, str) and kernel == "precomputed":
        raise ValueError("a precomputed kernel has no Nystroem features")
    else:
        from sklearn.kernel_approximation import Nystroem

        X = np.vstack([X_labelled, X_pool])
        nystroem = Nystroem(
            kernel=kernel,
            gamma=getattr(model, "gamma", None),
            degree=getattr(model, "degree", None),
            coef0=getattr(model, "coef0", None),
            kernel_params=getattr(model, "kernel_params", None),
            n_components=min(N_NYSTROEM, X.shape[0]),
            random_state=seed,
        )
        F = nystroem.fit_transform(X)
    if getattr(model, "fit_intercept", True):
        F = np.hstack([F, np.ones((F.shape[0], 1))])
    F = np.ascontiguousarray(F, dtype=np.float64)
    return F[:n_labelled], F[n_labelled:]


def pick(method, model, X_labelled, y_labelled, X_pool, n_instances, seed):
    """``n_instances`` distinct indices into ``X_pool`` chosen by bmdal-reg.

    Parameters
    ----------
    method : {"maxdet-p", "lcmd", "bait-p"}
    model : TangentRegressor
        The (unfitted) model configuration: ``kernel``, ``gamma``,
        ``degree``, ``coef0``, ``kernel_params`` and ``fit_intercept`` are
        read; ``alpha`` and the family are not used (see the module
        docstring).
    X_labelled, y_labelled : array-like
        The labelled rows (at least one) and their labels.
    X_pool : array-like
        The unlabelled candidates.
    n_instances : int
        Batch size, ``1 <= n_instances <= len(X_pool)``.
    seed : int
        Seeds the Nystroem features and torch (on a forked torch random
        state, so the caller's global torch state is left unchanged).

    Returns
    -------
    ndarray of int of shape (n_instances,)
        In bmdal-reg's order of selection.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    n_pool = np.shape(X_pool)[0]
    n_instances = int(n_instances)
    if not 1 <= n_instances <= n_pool:
        raise ValueError(f"n_instances={n_instances} not in [1, {n_pool}]")
    if np.shape(X_labelled)[0] < 1:
        # select_batch fails on an empty training set (and the scale
        # normalisation of the posterior transform needs labelled rows)
        raise ValueError("bmdal-reg needs at least one labelled row")
    torch, select_batch, TensorFeatureData = _import_bmdal()

    F_labelled, F_pool = features(model, X_labelled, X_pool, seed)
    y = np.asarray(y_labelled, dtype=np.float64).reshape(-1, 1)
    config = dict(METHODS[method])
    selection_method = config.pop("selection_method")
    kernel_transforms = config.pop("kernel_transforms")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        data = {
            "train": TensorFeatureData(torch.from_numpy(F_labelled)),
            "pool": TensorFeatureData(torch.from_numpy(F_pool)),
        }
        idx, info = select_batch(
            batch_size=n_instances,
            # one placeholder model: the linear base kernel does not use it,
            # but select_batch builds one feature map per model
            models=[torch.nn.Identity()],
            data=data,
            y_train=torch.from_numpy(y),
            base_kernel="linear",
            kernel_transforms=kernel_transforms,
            selection_method=selection_method,
            allow_float64=True,
            verbosity=0,
            **config,
        )
    idx = idx.cpu().numpy().astype(np.intp)
    status = info.get("selection_status")
    if status is not None:
        warnings.warn(f"bmdal-reg {method}: {status}", RuntimeWarning, stacklevel=2)
    if idx.shape != (n_instances,) or np.unique(idx).size != n_instances:
        raise RuntimeError(f"bmdal-reg {method} returned {idx!r}")
    return idx
