"""``export-classifier``, ``export-defended`` and ``publish``: finished runs become manifest releases, then Hub
(or mirror) repositories with pinned commits."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..options import add

EXPORT = ("--manifest", "--out", "--repo-id", "--dtype", "--machine", "--code-commit", "--summary")
EXPORT_SETTINGS = {"manifest": {"default": "weights_manifest.json"}, "out": {"default": "cafd_zoo/release"},
                   "dtype": {"default": "float32"}}


def _publish(args: argparse.Namespace) -> int:
    from .publish import publish

    commits = publish(args.release, args.export_dir, args.manifest, mirror_root=args.mirror_root, prune=args.prune)
    verb = "stored" if args.mirror_root else "published"
    for weights_id, commit in commits.items():
        print(f"{weights_id}: {verb} at commit {commit}")
    status = "stored (in the release store, not on the Hub)" if args.mirror_root else "published"
    print(f"{args.manifest}: {args.release} is now {status}, with pinned revisions")
    return 0


def _export_classifier(args: argparse.Namespace) -> int:
    from .export_classifier import export_classifier

    release = export_classifier(args.run, args.config, args.release, args.manifest, args.out, repo_id=args.repo_id,
                                dtype=args.dtype, machine=args.machine, code_commit=args.code_commit,
                                summary=args.summary, results=args.results, epoch=args.epoch)
    metric = release["metrics"][0]
    print(f"{args.release}: {release['status']}, clean test error {100 * metric['error_rate']:.2f}% "
          f"on {metric['n']} images, recorded in {args.manifest}")
    for m in release["metrics"][1:]:
        print(f"  {m['threat_model']:<10} {m['attack']:<10} n={m['n']:<6} error {100 * m['error_rate']:.2f}%")
    return 0


def _export_defended(args: argparse.Namespace) -> int:
    from ..classifier.trained import classifier_weights
    from .export_defended import export_defended

    known = json.loads(Path(args.manifest).read_text())["releases"].get(args.release, {})
    release = export_defended(
        args.run, args.config, args.classifier, classifier_weights(args.classifier_run), args.release, args.manifest,
        args.out, results=args.results, data_flag="--embedded" if args.embedded else "--data DIR", repo_id=args.repo_id,
        dtype=args.dtype, summary=args.summary or known.get("summary"), machine=args.machine, commands=args.command,
        deviations=known.get("deviations"), weights_id=args.weights_id or known.get("components", {}).get("denoiser"),
        code_commit=args.code_commit)
    print(f"{args.release}: {release['status']}, {len(release['metrics'])} metrics, recorded in {args.manifest}")
    for m in release["metrics"]:
        print(f"  {m['threat_model']:<10} {m['target']:<10} {m['attack']:<10} n={m['n']:<6} "
              f"error {100 * m['error_rate']:.2f}%")
    return 0


def _export_transfer(args: argparse.Namespace) -> int:
    from .export_transfer import export_transfer

    release = export_transfer(args.release, args.denoiser_release, args.classifier, args.manifest, results=args.results,
                              data_flag="--embedded" if args.embedded else "--data DIR", machine=args.machine,
                              summary=args.summary, commands=args.command)
    print(f"{args.release}: {release['status']}, the denoiser of {args.denoiser_release} before {args.classifier}, "
          f"{len(release['metrics'])} metrics, recorded in {args.manifest}")
    for m in release["metrics"]:
        print(f"  {m['threat_model']:<10} {m['target']:<10} {m['attack']:<10} n={m['n']:<6} "
              f"error {100 * m['error_rate']:.2f}%")
    return 0


def _record_metrics(args: argparse.Namespace) -> int:
    from .record_metrics import record_metrics

    release = record_metrics(args.release, args.results or [], args.manifest,
                             data_flag="--embedded" if args.embedded else "--data DIR",
                             machine=args.machine, store=args.store)
    where = f", model cards in {args.store}" if args.store else ""
    print(f"{args.release}: {len(release['metrics'])} metrics recorded in {args.manifest}{where}; weights untouched")
    for m in release["metrics"]:
        print(f"  {m['threat_model']:<10} {m['target']:<10} {m['attack']:<10} n={m['n']:<6} "
              f"error {100 * m['error_rate']:.2f}%")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "publish", help="upload an exported release to the Hub (or a mirror folder) and pin its commits",
        description="Upload each Hub repository folder of an exported release with huggingface_hub.HfApi "
        "(token from HF_TOKEN or `hf auth login`), or copy it into a mirror folder, then record the commit each "
        "upload produced as the pinned revision in the manifest; the release becomes published (Hub) or stored "
        "(mirror folder, e.g. the repository's release store hub/). --export-dir may itself be a release store.",
    )
    p.add_argument("release", help="the release name, as in the manifest")
    add(p, "--export-dir", "--manifest", "--mirror-root", "--prune", export_dir={"required": True},
        manifest={"default": "weights_manifest.json"})
    p.set_defaults(func=_publish)

    p = sub.add_parser(
        "export-classifier", help="turn a finished train-classifier run into a release of the manifest",
        description="Write the run's weights as a release (a Hub repository folder with --repo-id, else a package "
        "file for an embedded release) and its manifest entry: sha256, size, parameters, and the clean test error "
        "the run measured on its whole test split, with the command that reproduces it. With --results (`cafd "
        "evaluate --model RELEASE --threat bare` JSON lines on the exported release), their rows become metrics too.",
    )
    add(p, "--run", "--config", "--release", "--results", "--epoch", *EXPORT, run={"required": True},
        config={"required": True}, release={"required": True}, **EXPORT_SETTINGS)
    p.set_defaults(func=_export_classifier)

    p = sub.add_parser(
        "export-defended", help="turn a finished train-denoiser run plus a released classifier into a defended release",
        description="Write the run's denoiser as a release file (a Hub repository folder with --repo-id, else a "
        "package file) and a defended release that references the released classifier, after checking that the "
        "classifier the run was trained against holds exactly that release's weights. With --results (evaluate's JSON "
        "lines for this release), every (attack, threat model) row and the clean errors become the release's metrics, "
        "each with the command that reproduces it. Summary and deviations already in the manifest are kept.",
    )
    add(p, "--run", "--config", "--classifier", "--classifier-run", "--release", "--results", "--embedded", *EXPORT,
        "--weights-id", "--command", run={"required": True}, config={"required": True}, classifier={"required": True},
        classifier_run={"required": True}, release={"required": True}, **EXPORT_SETTINGS)
    p.set_defaults(func=_export_defended)

    p = sub.add_parser(
        "export-transfer", help="pair a released denoiser with another released classifier, with no retraining",
        description="The paper's cross-model transfer (Table 2) as a release: the manifest entry of a defended release "
        "whose denoiser comes from --denoiser-release and whose classifier comes from --classifier, both referenced "
        "where they already are (no file is written). It carries the denoiser's training record and, with --results "
        "(evaluate's JSON lines for this release), its metrics with their commands. Summary and deviations already "
        "in the manifest are kept.",
    )
    add(p, "--denoiser-release", "--classifier", "--release", "--results", "--embedded", "--manifest", "--machine",
        "--summary", "--command",
        denoiser_release={"required": True}, classifier={"required": True}, release={"required": True},
        manifest={"default": "weights_manifest.json"})
    p.set_defaults(func=_export_transfer)

    p = sub.add_parser(
        "record-metrics", help="make new evaluations of an exported release its metrics, weights untouched",
        description="Replace a release's metrics with the rows of --results (evaluate's JSON lines for it, as the "
        "export commands read them), each with the command that reproduces it, without its training run. With "
        "--store (a release store such as hub/), the model card of each stored repository the release owns is "
        "rewritten and its new commit pinned; the weight files stay byte-identical (their sha256 is checked first).",
    )
    add(p, "--release", "--results", "--embedded", "--manifest", "--machine", "--store", release={"required": True},
        results={"required": True}, manifest={"default": "weights_manifest.json"})
    p.set_defaults(func=_record_metrics)
