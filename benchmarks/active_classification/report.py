"""Tables, statistics and the plot of the classification run, from the records.

Two metrics per curve, each summarised by its AULC (the mean over all
rounds, round 0 included): the test log-loss, the primary one (lower is
better; it scores the probabilities the uncertainty strategies rank by), and
the test accuracy (higher is better). The per-case statistics are the
regression benchmark's ``active_learning.report.case_table``, run once per
metric: the mean and standard deviation (ddof=1) over seeds, the rank of the
mean, the ratio of the mean to random's, the median per-seed ratio, the
two-sided paired Wilcoxon signed-rank p-value against random on the same
seeds and the median seconds per query. ``case_table`` ranks the lowest
first, so it is given the negated accuracy curves and the signs of the means
are turned back here; the ratios, the p-values and the ranks need no
change (a ratio of two negated means is the ratio of the means). The
curves are rounded to 12 decimals first: two strategies that pick the same
rows (``margin`` and ``US-margin``) fit the same rows through different
wrappers, and the last bits of those fits should not break their tie.
"""

import numpy as np
from active_learning.report import case_table

from .data import DATASETS, MODELS
from .strategies import OURS

METRICS = {"log_loss": "log-loss", "accuracy": "accuracy"}


def _cases(records):
    present = {(r["dataset"], r["model"]) for r in records}
    return [(d, m) for d in DATASETS for m in MODELS if (d, m) in present]


def _num(x, digits=4):
    return "—" if np.isnan(x) else f"{x:.{digits}g}"


def _ran(records):
    return [r for r in records if "unavailable" not in r]


def unavailable(records):
    """Strategy -> the distinct reasons it was unavailable, in order met."""
    out = {}
    for r in records:
        if "unavailable" in r:
            out.setdefault(r["strategy"], [])
            if r["unavailable"] not in out[r["strategy"]]:
                out[r["strategy"]].append(r["unavailable"])
    return out


def metric_table(records, dataset, model, metric):
    """``case_table`` for one metric, means in the metric's own sign."""
    sign = -1.0 if metric == "accuracy" else 1.0
    view = [
        {**r, "curve": [round(sign * v, 12) for v in r[metric]]}
        for r in _ran(records)
        if r["dataset"] == dataset and r["model"] == model
    ]
    rows = case_table(view, dataset, model)
    for row in rows:
        row["aulc"] *= sign
        row["final"] *= sign
    return {row["strategy"]: row for row in rows}


def case_rows(records, dataset, model):
    """Both metrics per strategy, in the order of the log-loss rank."""
    loss = metric_table(records, dataset, model, "log_loss")
    accuracy = metric_table(records, dataset, model, "accuracy")
    return [(loss[name], accuracy[name]) for name in loss]


def markdown_case(records, dataset, model):
    lines = [
        f"### {dataset}, {model} ({DATASETS[dataset].description}; "
        "AULC = mean over rounds; ranked by log-loss AULC, the primary metric)",
        "",
        "| rank (log-loss) | strategy | log-loss AULC | std | ratio to random "
        "| median per-seed ratio | Wilcoxon p | rank (accuracy) | accuracy AULC "
        "| std | ratio to random | Wilcoxon p | final accuracy | final log-loss "
        "| median s / query |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for loss, acc in case_rows(records, dataset, model):
        lines.append(
            f"| {loss['rank']:g} | {loss['strategy']} | {_num(loss['aulc'])} "
            f"| {_num(loss['std'], 3)} | {_num(loss['ratio'])} "
            f"| {_num(loss['seed_ratio'])} | {_num(loss['p'], 2)} "
            f"| {acc['rank']:g} | {_num(acc['aulc'])} | {_num(acc['std'], 3)} "
            f"| {_num(acc['ratio'])} | {_num(acc['p'], 2)} | {_num(acc['final'])} "
            f"| {_num(loss['final'])} | {_num(loss['seconds'], 3)} |"
        )
    mine = [r for r in records if (r["dataset"], r["model"]) == (dataset, model)]
    missing = unavailable(mine)
    if missing:
        lines += ["", "Unavailable: " + ", ".join(sorted(missing)) + "."]
    warned = [
        f"{row['strategy']} {row['warnings']}"
        for row, _ in case_rows(records, dataset, model)
        if row["warnings"]
    ]
    if warned:
        lines += ["", "ConvergenceWarnings of the common fits: " + ", ".join(warned)]
    return "\n".join(lines)


def summary(records):
    """Per strategy over all cases: mean ranks, ratios, wins and losses, time."""
    per = {}
    for case in _cases(_ran(records)):
        for loss, acc in case_rows(records, *case):
            per.setdefault(loss["strategy"], []).append((loss, acc))
    out = []
    for name, rows in per.items():
        loss = [r[0] for r in rows]
        acc = [r[1] for r in rows]
        out.append(
            {
                "strategy": name,
                "cases": len(rows),
                "rank_loss": float(np.mean([r["rank"] for r in loss])),
                "rank_accuracy": float(np.mean([r["rank"] for r in acc])),
                "ratio_loss": float(np.mean([r["ratio"] for r in loss])),
                "worst_loss": float(np.max([r["ratio"] for r in loss])),
                "ratio_accuracy": float(np.mean([r["ratio"] for r in acc])),
                "worst_accuracy": float(np.min([r["ratio"] for r in acc])),
                "loss_better": sum(r["ratio"] < 1 and r["p"] < 0.05 for r in loss),
                "loss_worse": sum(r["ratio"] > 1 and r["p"] < 0.05 for r in loss),
                "acc_better": sum(r["ratio"] > 1 and r["p"] < 0.05 for r in acc),
                "acc_worse": sum(r["ratio"] < 1 and r["p"] < 0.05 for r in acc),
                "seconds": float(np.median([r["seconds"] for r in loss])),
            }
        )
    return sorted(out, key=lambda row: row["rank_loss"])


def markdown_summary(records):
    cases = _cases(_ran(records))
    lines = [
        f"### Summary over {len(cases)} (data set, model) cases "
        "(sorted by the mean rank of the log-loss AULC, the primary metric)",
        "",
        "| strategy | mean rank (log-loss) | mean rank (accuracy) "
        "| mean log-loss ratio to random | worst log-loss ratio "
        "| log-loss better / worse than random (p < 0.05) "
        "| mean accuracy ratio to random | worst accuracy ratio "
        "| accuracy better / worse than random (p < 0.05) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary(records):
        lines.append(
            f"| {row['strategy']} | {row['rank_loss']:.2f} "
            f"| {row['rank_accuracy']:.2f} | {_num(row['ratio_loss'])} "
            f"| {_num(row['worst_loss'])} "
            f"| {row['loss_better']} / {row['loss_worse']} "
            f"| {_num(row['ratio_accuracy'])} | {_num(row['worst_accuracy'])} "
            f"| {row['acc_better']} / {row['acc_worse']} |"
        )
    for name, reasons in unavailable(records).items():
        lines += ["", f"**{name}: unavailable** ({'; '.join(reasons)})"]
    return "\n".join(lines)


def markdown_seconds(records):
    """Median seconds per query call, strategy by case."""
    cases = _cases(_ran(records))
    per = {}
    for case in cases:
        for loss, _ in case_rows(records, *case):
            per.setdefault(loss["strategy"], {})[case] = loss["seconds"]
    lines = [
        "### Median seconds per query (the strategy's call only, not the refit)",
        "",
        "| strategy | " + " | ".join(f"{d} {m}" for d, m in cases) + " | median |",
        "|---|" + "---:|" * (len(cases) + 1),
    ]
    for name, seconds in per.items():
        cells = [_num(seconds.get(case, np.nan), 2) for case in cases]
        overall = float(np.median(list(seconds.values())))
        lines.append(f"| {name} | {' | '.join(cells)} | {_num(overall, 2)} |")
    return "\n".join(lines)


def markdown(records):
    parts = [markdown_case(records, *case) for case in _cases(_ran(records))]
    return "\n\n".join([*parts, markdown_summary(records), markdown_seconds(records)])


def mean_curves(records, dataset, model, metric):
    """Strategy -> its mean curve over seeds, for one case and metric."""
    curves = {}
    for r in _ran(records):
        if r["dataset"] == dataset and r["model"] == model:
            curves.setdefault(r["strategy"], []).append(r[metric])
    return {name: np.mean(c, axis=0) for name, c in curves.items()}


def plot(records, out, n_start=10):
    """Mean test log-loss and accuracy against labels, one row per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = _cases(_ran(records))
    datasets = [d for d in DATASETS if any(c[0] == d for c in cases)]
    panels = [(m, k) for m in MODELS if any(c[1] == m for c in cases) for k in METRICS]
    names = list(dict.fromkeys(r["strategy"] for r in _ran(records)))
    # the ten dark colours of tab20 first, then their light partners
    palette = plt.get_cmap("tab20")(np.r_[0:20:2, 1:20:2])
    colour = {name: palette[k % 20] for k, name in enumerate(names)}
    fig, axes = plt.subplots(
        len(datasets),
        len(panels),
        figsize=(4 * len(panels), 3 * len(datasets) + 1),
        squeeze=False,
        layout="constrained",
    )
    for ax, (dataset, (model, metric)) in zip(
        axes.flat, [(d, p) for d in datasets for p in panels], strict=True
    ):
        ax.set(
            title=f"{dataset}, {model}",
            xlabel="labelled points",
            ylabel=f"test {METRICS[metric]}",
        )
        for name, mean in mean_curves(records, dataset, model, metric).items():
            style = ":" if name == "random" else "-" if name in OURS else "--"
            x = n_start + np.arange(len(mean))
            ax.plot(x, mean, style, color=colour[name], label=name, lw=1.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(names), 8))
    fig.savefig(out, dpi=80)
    plt.close(fig)
