"""Active-learning query strategies compared on real regression data.

Six data sets that ship inside scikit-learn and statsmodels, a linear and an
rbf ``TangentRegressor`` for each (alpha=1, gamma=1/n_features, the family
that fits the target), 10 random starting labels, 40 rounds of one label, 10
seeds; the test error after every round, its mean over the rounds (AULC),
ranks, ratios to random, Wilcoxon p-values against random and the time per
query. The package ``benchmarks/active_learning`` holds the data, the
strategies, the loop and the report; ``benchmarks/README.md`` the protocol.
Run from the repository root::

    python benchmarks/bench_active_learning.py --jobs 2      # the full run
    python benchmarks/bench_active_learning.py --quick --out curves.png
    python benchmarks/bench_active_learning.py --from-json bench_al.json
"""

import argparse
import os
import sys
import time
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load_average, print_environment  # noqa: E402
from active_learning import protocol, report  # noqa: E402
from active_learning import strategies as registry  # noqa: E402
from active_learning.data import DATASETS, MAX_ROWS, MODELS  # noqa: E402

FULL = {"seeds": 10, "rounds": 40, "datasets": list(DATASETS)}
QUICK = {"seeds": 2, "rounds": 8, "datasets": ["diabetes", "star98", "anes96"]}


OPTIONAL = ("scikit-activeml", "statsmodels", "matplotlib", "torch", "bmdal_reg")


def _version(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _list(text):
    return [x.strip() for x in text.split(",") if x.strip()]


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"CI smoke run: {QUICK['seeds']} seeds, {QUICK['rounds']} rounds, "
        f"{', '.join(QUICK['datasets'])}",
    )
    parser.add_argument("--seeds", type=int, help="number of seeds (0, 1, ...)")
    parser.add_argument("--rounds", type=int, help="labels added after the start")
    parser.add_argument("--datasets", type=_list, help=f"from {','.join(DATASETS)}")
    parser.add_argument("--models", type=_list, default=list(MODELS))
    parser.add_argument(
        "--strategies", type=_list, help="comma-separated names (default: all)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument(
        "--out", default="bench_active_learning.png", help="PNG of the curves"
    )
    parser.add_argument(
        "--json", help="raw results (default: --out with the suffix .json)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the (data set, model, seed) tasks already in --json",
    )
    parser.add_argument(
        "--from-json", help="remake the tables and the plot from this file, no run"
    )
    args = parser.parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    for key in ("seeds", "rounds", "datasets"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    config["models"] = args.models
    for key, known in (("datasets", DATASETS), ("models", MODELS)):
        unknown = [x for x in config[key] if x not in known]
        if unknown:
            parser.error(f"unknown {key} {unknown}; choose from {list(known)}")
    if args.json is None:
        args.json = os.path.splitext(args.out)[0] + ".json"
    return args, config


def report_all(records, out):
    print(report.markdown(records))
    report.plot(records, out, protocol.N_START)
    print(f"\nlearning curves written to {out}")


def main(argv=None):
    args, config = parse(argv)
    if args.from_json:
        header, records = protocol.load(args.from_json)
        print(f"results of {header['config']} from {args.from_json}\n")
        report_all(records, args.out)
        return
    print_environment()
    print(", ".join(f"{name} {_version(name)}" for name in OPTIONAL))
    chosen, skipped = registry.select(args.strategies)
    names = list(chosen)
    for reason in dict.fromkeys(skipped.values()):
        which = [n for n, r in skipped.items() if r == reason]
        print(f"skipped {', '.join(which)}: {reason}")
    config["strategies"] = names
    config.update(n_start=protocol.N_START, max_rows=MAX_ROWS)
    print(
        f"{config['seeds']} seeds, {protocol.N_START} starting labels, "
        f"{config['rounds']} rounds, at most {MAX_ROWS} rows per data set, "
        f"{args.jobs} job(s)\ndata sets {', '.join(config['datasets'])}; "
        f"models {', '.join(config['models'])}\nstrategies {', '.join(names)}\n"
    )
    tasks = [
        (d, m, s)
        for d in config["datasets"]
        for m in config["models"]
        for s in range(config["seeds"])
    ]
    records = []
    if args.resume and os.path.exists(args.json):
        header, records = protocol.load(args.json)
        if header["config"]["rounds"] != config["rounds"]:
            sys.exit(
                f"{args.json} has {header['config']['rounds']} rounds, not "
                f"{config['rounds']}; remove it or drop --resume"
            )
        done = protocol.completed(records, names)
        records = [r for r in records if (r["dataset"], r["model"], r["seed"]) in done]
        print(f"resuming: {len(done)} of {len(tasks)} tasks already in {args.json}")
    done = protocol.completed(records, names)
    header = {"config": config}

    def keep(new):
        records.extend(new)
        protocol.save(args.json, header, records)

    t0 = time.perf_counter()
    protocol.run(tasks, names, config["rounds"], args.jobs, done, keep)
    elapsed = time.perf_counter() - t0
    header["seconds"] = elapsed
    protocol.save(args.json, header, records)
    print(f"raw results written to {args.json}\n")
    report_all(records, args.out)
    print(
        f"\nrun time {elapsed:.0f} s for {len(tasks) - len(done)} tasks; "
        f"{load_average()}"
    )


if __name__ == "__main__":
    main()
