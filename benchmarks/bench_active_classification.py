"""Active-learning query strategies compared on real classification data.

Five data sets that ship inside scikit-learn and statsmodels (iris, wine,
breast cancer, digits, anes96's party identification), a linear and an rbf
logistic model for each (alpha = 1, i.e. C = 1/alpha; gamma = 1/n_features),
10 starting labels with every class present, 40 rounds of one label, 10
seeds; the test log-loss (primary) and accuracy after every round, their
means over the rounds (AULC), ranks, ratios to random, Wilcoxon p-values
against random and the time per query. The models are
``sktangent.TangentClassifier`` when sktangent has it and scikit-learn
stand-ins otherwise; the output says which. The package
``benchmarks/active_classification`` holds the data, the strategies, the
loop and the report; ``benchmarks/README.md`` the protocol. Run from the
repository root::

    python benchmarks/bench_active_classification.py --jobs 2   # the full run
    python benchmarks/bench_active_classification.py --quick --out curves.png
    python benchmarks/bench_active_classification.py --from-json bench_ac.json
"""

import argparse
import itertools
import os
import sys
import time
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import load_average, print_environment  # noqa: E402
from active_classification import protocol, report  # noqa: E402
from active_classification import strategies as registry  # noqa: E402
from active_classification.data import (  # noqa: E402
    DATASETS,
    MAX_ROWS,
    MODELS,
    N_START,
    model_classes,
)

FULL = {"seeds": 10, "rounds": 40, "datasets": list(DATASETS)}
QUICK = {"seeds": 2, "rounds": 8, "datasets": ["iris", "wine", "anes96"]}


def versions(*distributions):
    found = []
    for name in distributions:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def names(text):
    return [part.strip() for part in text.split(",") if part.strip()]


OPTIONS = {
    "--quick": dict(
        action="store_true",
        help=f"CI smoke run: {QUICK['seeds']} seeds, {QUICK['rounds']} rounds, "
        f"{', '.join(QUICK['datasets'])}",
    ),
    "--seeds": dict(type=int, help="number of seeds (0, 1, ...)"),
    "--rounds": dict(type=int, help="labels added after the start"),
    "--datasets": dict(type=names, help=f"from {','.join(DATASETS)}"),
    "--models": dict(type=names, default=list(MODELS)),
    "--strategies": dict(type=names, help="names (default: all)"),
    "--jobs": dict(type=int, default=1, help="parallel processes"),
    "--out": dict(default="bench_ac.png", help="PNG of the curves"),
    "--json": dict(help="raw results (default: --out as .json)"),
    "--resume": dict(action="store_true", help="keep the tasks already in --json"),
    "--from-json": dict(help="report this file's results, no run"),
}


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, options in OPTIONS.items():
        parser.add_argument(flag, **options)
    args = parser.parse_args(argv)
    config = {**(QUICK if args.quick else FULL), "models": args.models}
    for key in ("seeds", "rounds", "datasets"):
        config[key] = getattr(args, key) or config[key]
    for key, known in (("datasets", DATASETS), ("models", MODELS)):
        if set(config[key]) - set(known):
            parser.error(f"unknown {key} in {config[key]}; choose from {list(known)}")
    args.json = args.json or os.path.splitext(args.out)[0] + ".json"
    return args, config


def header_lines(config):
    lines = [f"model {kind}: {cls}" for kind, cls in config["model_classes"].items()]
    return "\n".join(lines)


def previous(args, config):
    """The complete tasks of an earlier run with the same rounds (--resume)."""
    if not os.path.exists(args.json):
        return []
    old, records = protocol.load(args.json)
    if old["config"]["rounds"] != config["rounds"]:
        sys.exit(f"{args.json} has another number of rounds; drop --resume")
    done = protocol.completed(records, config["strategies"])
    return [r for r in records if (r["dataset"], r["model"], r["seed"]) in done]


def report_all(records, out):
    print(report.markdown(records))
    report.plot(records, out, N_START)
    print(f"\nlearning curves written to {out}")


def main(argv=None):
    args, config = parse(argv)
    if args.from_json:
        header, records = protocol.load(args.from_json)
        print(f"results of {header['config']} from {args.from_json}")
        print(header_lines(header["config"]) + "\n")
        report_all(records, args.out)
        return
    print_environment()
    print(versions("scikit-activeml", "statsmodels", "matplotlib"))
    chosen, skipped = registry.select(args.strategies)
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    config.update(
        strategies=list(chosen),
        n_start=N_START,
        max_rows=MAX_ROWS,
        model_classes=model_classes(),
    )
    print(header_lines(config))
    for name, strategy in chosen.items():
        reason = strategy.ours and registry.unavailable_reason(name)
        if reason:
            print(f"{name} will be reported unavailable: {reason}")
    print(
        f"{config['seeds']} seeds, {N_START} starting labels (every class), "
        f"{config['rounds']} rounds, at most {MAX_ROWS} rows per data set, "
        f"{args.jobs} job(s)\ndata sets {', '.join(config['datasets'])}; "
        f"models {', '.join(config['models'])}\n"
        f"strategies {', '.join(config['strategies'])}\n"
    )
    tasks = list(
        itertools.product(config["datasets"], config["models"], range(config["seeds"]))
    )
    records = previous(args, config) if args.resume else []
    done = protocol.completed(records, config["strategies"])
    if args.resume:
        print(f"resuming: {len(done)} of {len(tasks)} tasks already in {args.json}")
    header = {"config": config}

    def keep(new):
        records.extend(new)
        protocol.save(args.json, header, records)

    t0 = time.perf_counter()
    protocol.run(tasks, config["strategies"], config["rounds"], args.jobs, done, keep)
    header["seconds"] = elapsed = time.perf_counter() - t0
    protocol.save(args.json, header, records)
    print(f"raw results written to {args.json}\n")
    report_all(records, args.out)
    print(
        f"\nrun time {elapsed:.0f} s for {len(tasks) - len(done)} tasks; "
        f"{load_average()}\n{header_lines(config)}"
    )


if __name__ == "__main__":
    main()
