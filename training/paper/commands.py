"""``report``, ``figure`` and ``caf-distance``: the paper's Tables 1-3 and Figures 3, 5 and 6 from results files,
and the measurement behind Figure 3."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cafd_zoo.cli_options import one

from ..options import add


def _caf_distance(args: argparse.Namespace) -> int:
    from cafd_zoo.evaluation.commands import evaluation_data, evaluation_device

    from ..classifier.config import load_config
    from ..classifier.trained import classifier_weights, load_trained_classifier
    from .caf_distance import caf_distance, caf_points, format_caf_distance

    config = load_config(args.classifier_config)
    model = load_trained_classifier(classifier_weights(args.classifier_run), config, evaluation_device(args))
    data = evaluation_data(args, config.dataset, check_md5=config.check_md5)
    points = caf_points(args.attacks, args.eps, one(args.steps, "--steps"), args.cw_const, args.cw_steps)
    release = args.release or Path(args.classifier_run).name
    rows = caf_distance(model, release, data, args.out, points=points, n=args.n, batch_size=args.batch_size,
                        seed=args.seed, precision=args.precision)
    print(f"{release}: class activation feature distance and fooling rate, first {args.n} test images\n")
    print(format_caf_distance(rows), end="")
    return 0


def _figure(args: argparse.Namespace) -> int:
    from .figures import figure3, figure5, figure6
    from .training_curve import training_curve

    if args.number == "curve":
        data = training_curve(args.results[0], args.out)
        print(f"{args.out}: the training curve of {args.results[0]}, {len(data['series'])} series; its data in "
              f"{Path(args.out).with_suffix('.json')}")
        rule = data["plateau"]
        for key, gain in rule["metrics"].items():
            since = gain["first_epoch_below"]
            print(f"  {key}: {gain['last_gain_points']:+.2f} points over the last two epochs; "
                  + (f"first below the rule's threshold at epoch {since}" if since
                     else "never below the rule's threshold"))
        if rule["met"] is not None:
            first = f"first met at epoch {rule['met_at']}" if rule["met_at"] else "never met"
            print(f"  stopping rule ({rule['rule']}, every metric at once): {'met' if rule['met'] else 'NOT met'} "
                  f"at the last epoch; {first}")
        return 0
    if args.number == "6":
        data = figure6(args.results, args.out, eps_min=args.eps_min, eps_max=args.eps_max)
    elif args.number == "5":
        data = figure5(args.results, args.out, threat=one(args.threat, "--threat"), attacks=args.attacks)
    else:
        data = figure3(args.results, args.out, distance=args.distance)
    series = len(data.get("lines", data.get("variants", [])))
    print(f"{args.out}: Figure {args.number}, {series} series; its data in {Path(args.out).with_suffix('.json')}")
    return 0


EVALUATION_FIELDS = ("release", "attack", "threat_model", "n", "errors", "clean_errors", "params")


def check_evaluation_results(path: str | Path) -> None:
    """``report`` reads what ``evaluate`` writes: any other JSON-lines file (a sweep, a training log) gets one
    error that names what it lacks and where it belongs, not a KeyError from deep inside a table. A file of
    evaluate's with a few other rows beside (sweep points) is fine: the tables skip them."""
    from cafd_zoo.metrics_log import read_metrics

    rows = read_metrics(path)
    if not rows:
        raise ValueError(f"{path} holds no results: run `evaluate --out {path}` first")
    if not any(all(f in row for f in EVALUATION_FIELDS) for row in rows):  # rows of other kinds beside them are skipped
        missing = [f for f in EVALUATION_FIELDS if f not in rows[0]]
        raise ValueError(f"{path} holds no `evaluate` result (line 1 has no {', '.join(missing)}): report renders "
                         "evaluate's files; a sweep's go to `figure 6`, caf-distance's to `figure 3`, a training "
                         "log's to `figure curve`")


def _report(args: argparse.Namespace) -> int:
    from .table1 import table1, threat_table
    from .robust_table import robust_table
    from .tables_2_3 import parse_labels, table2, table3

    for path in args.results:
        check_evaluation_results(path)
    if args.table == "2":
        text = table2(args.results, attacks=args.attacks, labels=parse_labels(args.label), paper=args.paper)
    elif args.table == "3":
        text = table3(args.results, attacks=args.attacks, threats=args.threat, labels=parse_labels(args.label),
                      paper=args.paper)
    elif args.table == "robust":
        text = robust_table(args.results[0], args.release and [args.release])
    elif len(args.results) > 1:
        raise ValueError(f"Table 1 and --release read one results file, got {len(args.results)}; "
                         "--table 2 or 3 takes several")
    elif args.release:
        text = threat_table(args.results[0], args.release)
    else:
        text = table1(args.results[0], threat=",".join(args.threat or ["oblivious"]), attacks=args.attacks,
                      paper=args.paper)
    if args.out:
        Path(args.out).write_text(text)
    print(text, end="")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="render evaluation results as Markdown tables like the paper's Tables 1-3",
                       description="Rows: the releases in the results file; columns: attacks; cells: error rate (%) "
                       "under one threat model, with the clean error beside. --threat: Table 1's threat model (default "
                       "oblivious; several: each release's first one measured, e.g. oblivious,transfer for the AT "
                       "row), Table 3's rows (default: every threat model found but bare). --release: "
                       "instead, one release's table of attacks x threat models. --attacks: the column order "
                       "(default: every attack found).")
    p.add_argument("results", nargs="+", help="results file(s) written by `evaluate` (tables 2 and 3 take several)")
    add(p, "--table", "--threat", "--release", "--attacks", "--label", "--paper", "--out", table={"default": "1"})
    p.set_defaults(func=_report)

    p = sub.add_parser("figure",
                       help="draw the paper's Figure 3, 5 or 6, or a run's training curve, as PNG plus its data",
                       description="6: error rate against eps (6/255 to 16/255), one line per defense and threat "
                       "model, from `sweep` results; 5: the ablation, error rate per denoiser variant (release) and "
                       "attack, from `evaluate` results (--threat: one, default oblivious; --attacks: the order); 3: "
                       "class activation feature distance against fooling rate, from `caf-distance` results; curve: a "
                       "run's per-epoch accuracies (test accuracy, denoiser probes) from its metrics.jsonl. The data "
                       "drawn is written beside the PNG (same name, .json).")
    p.add_argument("number", choices=["3", "5", "6", "curve"], help="which figure")
    p.add_argument("results", nargs="+", help="the results file(s) to draw from")
    add(p, "--out", "--threat", "--attacks", "--eps-min", "--eps-max", "--distance", out={"required": True},
        threat={"default": "oblivious"}, eps_min={"default": "6"}, eps_max={"default": "16"},
        distance={"default": "caf_distance"})
    p.set_defaults(func=_figure)

    p = sub.add_parser(
        "caf-distance", help="fooling rate and class activation feature distance per attack and budget (Figure 3)",
        description="Attack the bare classifier on the first --n test images with each attack (bim, pgd_n, cw_l2) at "
        "each budget (--eps for bim and pgd_n, the constant c for cw_l2; budget 0 is the natural image) and record "
        "the fooling rate and the mean distance between the class activation features of natural and adversarial "
        "images; distances are measured in fp32. One JSON line per (attack, budget) in --out; a rerun skips the "
        "points it holds.",
    )
    add(p, "--classifier-run", "--classifier-config", "--data", "--embedded", "--attacks", "--eps", "--steps",
        "--cw-const", "--cw-steps", "--n", "--release", "--batch-size", "--seed", "--precision", "--device", "--out",
        classifier_run={"required": True}, classifier_config={"required": True}, attacks={"default": "bim,pgd_n,cw_l2"},
        eps={"default": "0,1,2,4,8,16"}, steps={"default": "10"}, cw_const={"default": "0,0.001,0.01,0.1,1"},
        cw_steps={"default": 100}, n={"default": 500}, batch_size={"default": 250}, seed={"default": 0},
        precision={"default": "auto"}, out={"required": True})
    p.set_defaults(func=_caf_distance)
