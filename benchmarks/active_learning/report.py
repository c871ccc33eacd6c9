"""Tables, statistics and the plot, from the raw records alone.

The AULC of one curve is its mean over all rounds (round 0 included).
Per (data set, model) case and strategy: the AULC mean and standard
deviation (ddof=1) over seeds, the rank of the mean (1 = best), the ratio of
the mean to random's, the median over seeds of the per-seed ratio AULC /
random's AULC (robust to a seed where one strategy's fits blow up, as
random's Poisson fits on randhie do), the two-sided Wilcoxon signed-rank
p-value of the per-seed AULC against random's on the same seeds (1.0 when
the two samples are identical), the mean final error and the median seconds
per query call (a batch call, which returns several labels, counts once).
"""

import numpy as np
from scipy.stats import rankdata, wilcoxon

from .data import DATASETS, MODELS


def _cases(records):
    present = {(r["dataset"], r["model"]) for r in records}
    order = [(d, m) for d in DATASETS for m in MODELS]
    return [c for c in order if c in present]


def _strategies(records):
    out = []
    for r in records:
        if r["strategy"] not in out:
            out.append(r["strategy"])
    return out


def _p_value(a, b):
    d = np.asarray(a) - np.asarray(b)
    if len(d) < 2 or np.all(d == 0):
        return 1.0
    return float(wilcoxon(a, b).pvalue)


def case_table(records, dataset, model):
    """One row per strategy, in rank order."""
    mine = [r for r in records if r["dataset"] == dataset and r["model"] == model]
    aulc = {}
    for r in mine:
        aulc.setdefault(r["strategy"], {})[r["seed"]] = float(np.mean(r["curve"]))
    rows = []
    for name in _strategies(mine):
        runs = [r for r in mine if r["strategy"] == name]
        values = np.array(list(aulc[name].values()))
        times = [t for r in runs for t in r["query_seconds"]]
        rows.append(
            {
                "strategy": name,
                "batch": runs[0]["batch"],
                "seeds": len(values),
                "aulc": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "final": float(np.mean([r["curve"][-1] for r in runs])),
                "seconds": float(np.median(times)) if times else float("nan"),
                "warnings": int(sum(r["convergence_warnings"] for r in runs)),
            }
        )
    ranks = rankdata([row["aulc"] for row in rows])
    base = aulc.get("random")
    for row, rank in zip(rows, ranks, strict=True):
        row["rank"] = float(rank)
        row["ratio"] = row["seed_ratio"] = row["p"] = float("nan")
        if base is not None:
            seeds = sorted(set(base) & set(aulc[row["strategy"]]))
            mine_ = [aulc[row["strategy"]][s] for s in seeds]
            ref = [base[s] for s in seeds]
            row["ratio"] = float(np.mean(mine_) / np.mean(ref))
            row["seed_ratio"] = float(np.median(np.divide(mine_, ref)))
            if row["strategy"] != "random":
                row["p"] = _p_value(mine_, ref)
    return sorted(rows, key=lambda row: row["rank"])


def _fmt(x, digits=4):
    return "—" if x != x else f"{x:.{digits}g}"


def markdown_case(records, dataset, model):
    data = DATASETS[dataset]
    rows = case_table(records, dataset, model)
    lines = [
        f"### {dataset}, {model} ({data.family}; test {data.error}, "
        "AULC = mean over rounds, lower is better)",
        "",
        "| rank | strategy | AULC mean | AULC std | ratio to random "
        "| median per-seed ratio | Wilcoxon p vs random | final error "
        "| median s / query |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = row["strategy"]
        if row["batch"] > 1:
            name += f" (batch {row['batch']})"
        lines.append(
            f"| {row['rank']:g} | {name} | {_fmt(row['aulc'])} | "
            f"{_fmt(row['std'], 3)} | {_fmt(row['ratio'], 4)} | "
            f"{_fmt(row['seed_ratio'], 4)} | "
            f"{_fmt(row['p'], 2)} | {_fmt(row['final'])} | "
            f"{_fmt(row['seconds'], 3)} |"
        )
    warned = [f"{r['strategy']} {r['warnings']}" for r in rows if r["warnings"]]
    if warned:
        lines += ["", "ConvergenceWarnings of the common fits: " + ", ".join(warned)]
    return "\n".join(lines)


def summary(records):
    """Per strategy over all cases: mean rank, ratio to random, wins, time."""
    per = {}
    cases = _cases(records)
    for case in cases:
        for row in case_table(records, *case):
            per.setdefault(row["strategy"], []).append(row)
    out = []
    for name, rows in per.items():
        ratios = np.array([r["ratio"] for r in rows])
        seed_ratios = np.array([r["seed_ratio"] for r in rows])
        better = sum(r["ratio"] < 1 and r["p"] < 0.05 for r in rows)
        worse = sum(r["ratio"] > 1 and r["p"] < 0.05 for r in rows)
        out.append(
            {
                "strategy": name,
                "cases": len(rows),
                "mean_rank": float(np.mean([r["rank"] for r in rows])),
                "mean_ratio": float(np.mean(ratios)),
                "max_ratio": float(np.max(ratios)),
                "seed_ratio": float(np.mean(seed_ratios)),
                "better": int(better),
                "worse": int(worse),
                "seconds": float(np.median([r["seconds"] for r in rows])),
            }
        )
    return sorted(out, key=lambda r: r["mean_rank"])


def markdown_summary(records):
    n_cases = len(_cases(records))
    lines = [
        f"### Summary over {n_cases} (data set, model) cases",
        "",
        "| strategy | mean rank | mean AULC ratio to random | worst ratio "
        "| mean of the median per-seed ratios "
        "| cases better / worse than random (p < 0.05) "
        "| median of the cases' median s / query |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary(records):
        lines.append(
            f"| {row['strategy']} | {row['mean_rank']:.2f} | "
            f"{_fmt(row['mean_ratio'])} | {_fmt(row['max_ratio'])} | "
            f"{_fmt(row['seed_ratio'])} | "
            f"{row['better']} / {row['worse']} | {_fmt(row['seconds'], 3)} |"
        )
    return "\n".join(lines)


def markdown(records):
    parts = [markdown_case(records, *case) for case in _cases(records)]
    return "\n\n".join([*parts, markdown_summary(records)])


def plot(records, out, n_start=10):
    """Mean test error against labelled points, one panel per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = _cases(records)
    datasets = [d for d in DATASETS if any(c[0] == d for c in cases)]
    models = [m for m in MODELS if any(c[1] == m for c in cases)]
    names = _strategies(records)
    # the ten dark colours of tab20 first, then their light partners
    colours = plt.get_cmap("tab20")(np.r_[0:20:2, 1:20:2])
    fig, axes = plt.subplots(
        len(datasets),
        len(models),
        figsize=(5 * len(models), 3 * len(datasets) + 1),
        squeeze=False,
        layout="constrained",
    )
    for i, dataset in enumerate(datasets):
        for j, model in enumerate(models):
            ax = axes[i, j]
            ax.set_title(f"{dataset}, {model}")
            ax.set_ylabel(f"test {DATASETS[dataset].error}")
            ax.set_xlabel("labelled points")
            highest = start = 0.0
            lowest = np.inf
            for k, name in enumerate(names):
                key = (dataset, model, name)
                curves = [
                    r["curve"]
                    for r in records
                    if (r["dataset"], r["model"], r["strategy"]) == key
                ]
                if not curves:
                    continue
                mean = np.mean(curves, axis=0)
                ours = name.split("-")[0] in ("influence", "variance", "expected")
                style = ":" if name == "random" else "-" if ours else "--"
                x = n_start + np.arange(len(mean))
                ax.plot(x, mean, style, color=colours[k % 20], label=name, lw=1.3)
                highest, start = max(highest, mean.max()), max(start, mean[0])
                lowest = min(lowest, mean.min())
            if highest > 1.5 * start:
                # one seed's blown-up fit (random's Poisson fits on randhie)
                # would flatten every other curve; the tables keep it
                margin = 0.05 * (1.5 * start - lowest)
                ax.set_ylim(lowest - margin, 1.5 * start)
                ax.set_title(f"{dataset}, {model} (axis clipped)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(names), 7))
    fig.savefig(out, dpi=90)
    plt.close(fig)
