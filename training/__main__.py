"""``python -m training <command>``: the commands that make and publish weights."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from cafd_zoo.errors import ZooError

from .classifier_source import classifier_weights
from .publish import publish


def _publish(args: argparse.Namespace) -> int:
    commits = publish(args.release, args.export_dir, args.manifest, mirror_root=args.mirror_root)
    for weights_id, commit in commits.items():
        print(f"{weights_id}: published at commit {commit}")
    status = "stored (in the release store, not on the Hub)" if args.mirror_root else "published"
    print(f"{args.manifest}: {args.release} is now {status}, with pinned revisions")
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train_classifier import train_classifier

    result = train_classifier(load_config(args.config), args.out, args.data, resume=args.resume, device=args.device)
    if "test_accuracy" in result:
        print(f"test accuracy {100 * result['test_accuracy']:.2f}% on {result['test_examples']} images after "
              f"{result['steps']} steps, {result['wall_seconds']:.0f} s; weights in {args.out}/model.safetensors")
    elif "stopped_at_step" in result:
        print(f"stopped at step {result['stopped_at_step']}; continue with the same command plus --resume")
    return 0


def _craft_cafa(args: argparse.Namespace) -> int:
    """craft-cafa, and craft-adversarial (which names its --attack)."""
    from .config import load_config
    from .craft_cafa import craft_cafa
    from .training_attacks import training_attack

    attack, preset, steps = None, args.preset, args.steps
    if getattr(args, "attack", None):
        in_255 = {k: None if getattr(args, k) is None else getattr(args, k) / 255 for k in ("eps", "step_size")}
        attack = training_attack(args.attack, preset=args.preset, steps=args.steps,
                                 binary_search_steps=args.search_steps, confidence=args.confidence, **in_255)
        preset, steps = "official", None
    result = craft_cafa(classifier_weights(args.classifier_run), load_config(args.classifier_config), args.data, args.out,
                        preset=preset, steps=steps, shard_size=args.shard_size, batch_size=args.batch_size,
                        limit=args.limit, seed=args.seed, precision=args.precision, device=args.device, attack=attack)
    if result["stopped"]:
        print(f"stopped after {result['crafted_shards']} new shard(s); run the same command again to continue")
    else:
        print(f"{args.out}: all {result['num_shards']} shards present ({result['crafted_shards']} crafted now)")
    return 0


def _export_classifier(args: argparse.Namespace) -> int:
    from .export_classifier import export_classifier

    release = export_classifier(args.run, args.config, args.release, args.manifest, args.out, repo_id=args.repo_id,
                                dtype=args.dtype, machine=args.machine, code_commit=args.code_commit, summary=args.summary)
    metric = release["metrics"][0]
    print(f"{args.release}: {release['status']}, clean test error {100 * metric['error_rate']:.2f}% "
          f"on {metric['n']} images, recorded in {args.manifest}")
    return 0


def _export_defended(args: argparse.Namespace) -> int:
    import json

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
        print(f"  {m['threat_model']:<10} {m['target']:<10} {m['attack']:<10} n={m['n']:<6} error {100 * m['error_rate']:.2f}%")
    return 0


def _train_denoiser(args: argparse.Namespace) -> int:
    from .config import load_config
    from .denoiser_config import load_denoiser_config
    from .train_denoiser import train_denoiser

    result = train_denoiser(load_denoiser_config(args.config), args.out, args.data,
                            classifier_weights(args.classifier_run), load_config(args.classifier_config),
                            cafa_dir=args.cafa_dir, resume=args.resume, device=args.device,
                            init_denoiser=getattr(args, "init", None))
    if "stopped_at_step" in result:
        print(f"stopped at step {result['stopped_at_step']}; continue with the same command plus --resume")
    elif "wall_seconds" in result:  # the main process's result
        print(f"{result['steps']} steps, {result['wall_seconds']:.0f} s; probe accuracy {result['probe_accuracy']}; "
              f"weights in {args.out}/denoiser.safetensors")
    return 0


def _defended_from_args(args: argparse.Namespace, threats: list[str]):
    """The DefendedClassifier that evaluate and sweep attack, its release name, and the test data."""
    import torch

    from cafd_zoo.data import embedded_cifar10_sample, load_dataset
    from cafd_zoo.models import DefendedClassifier
    from cafd_zoo.models.denoiser import ZeroResidual
    from cafd_zoo.purifiers import build_purifier

    from .config import load_config
    from .craft_cafa import load_trained_classifier
    from .denoiser_init import load_initial_denoiser

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.model:
        from cafd_zoo.hub import load

        model, release, dataset = load(args.model, device=device), args.model, None
        if not isinstance(model, DefendedClassifier):
            raise ValueError(f"{args.model} is not a defended release; evaluate a classifier with --classifier-run")
    else:
        if not (args.classifier_run and args.classifier_config):
            raise ValueError("give --model NAME, or --classifier-run and --classifier-config (plus --denoiser FILE)")
        config = load_config(args.classifier_config)
        classifier = load_trained_classifier(classifier_weights(args.classifier_run), config, device)
        dataset = config.dataset
        if args.denoiser and args.purifier:
            raise ValueError("give --denoiser or --purifier, not both")
        if args.denoiser:
            denoiser = load_initial_denoiser(args.denoiser).build()  # DUNET (CAFD, HGD) or APE-G's generator
        elif args.purifier:
            denoiser = build_purifier(args.purifier, seed=args.seed)
        else:
            if set(threats) != {"bare"}:
                raise ValueError("without --denoiser or --purifier there is only the bare classifier: use --threat bare")
            denoiser = ZeroResidual()
        model = DefendedClassifier(denoiser.to(device), classifier)
        defense = Path(args.denoiser).parent.name if args.denoiser else args.purifier
        release = args.release or Path(args.classifier_run).name + (f"+{defense}" if defense else "")
    if args.embedded:
        data = embedded_cifar10_sample()
    elif args.data:
        data = load_dataset(dataset or model.release_info["dataset"], args.data, "test")
    else:
        raise ValueError("give --data DIR (the test split) or --embedded (the first 1,000 CIFAR-10 test images)")
    return model, release, data


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_summary

    threats = args.threat.split(",")
    model, release, data = _defended_from_args(args, threats)
    surrogate = None
    if args.surrogate_denoiser:
        from .surrogate import load_surrogate

        surrogate = load_surrogate(args.surrogate_denoiser, model)
    rows = evaluate(model, release, data, args.out, attacks=args.attacks.split(","), threats=threats, n=args.n,
                    shard_size=args.shard_size, batch_size=args.batch_size, steps=args.steps, seed=args.seed, eps=args.eps / 255,
                    precision=args.precision, resume=args.resume, surrogate=surrogate, eot=args.eot)
    print(format_summary(rows, release))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .budget_sweep import format_sweep, sweep, sweep_checks, sweep_points

    model, release, data = _defended_from_args(args, [args.threat])
    eps_values = [float(e) / 255 for e in args.eps.split(",")]
    points = sweep_points(eps_values, [int(k) for k in args.steps.split(",")], args.base_eps / 255, args.base_steps)
    rows = sweep(model, release, data, args.out, attack=args.attack, threat=args.threat, points=points, n=args.n,
                 batch_size=args.batch_size, seed=args.seed, precision=args.precision)
    checks = sweep_checks(rows, args.base_eps / 255, args.base_steps)
    print(f"{release}: {args.attack} / {args.threat}, first {args.n} test images\n")
    print(format_sweep(rows, checks))
    return 0


def _caf_distance(args: argparse.Namespace) -> int:
    import torch

    from cafd_zoo.data import embedded_cifar10_sample, load_dataset

    from .caf_distance import caf_distance, caf_points, format_caf_distance
    from .config import load_config
    from .craft_cafa import load_trained_classifier

    config = load_config(args.classifier_config)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = load_trained_classifier(classifier_weights(args.classifier_run), config, device)
    if args.embedded:
        data = embedded_cifar10_sample()
    elif args.data:
        data = load_dataset(config.dataset, args.data, "test", check_md5=config.check_md5)
    else:
        raise ValueError("give --data DIR (the test split) or --embedded (the first 1,000 CIFAR-10 test images)")
    points = caf_points(args.attacks.split(","), [float(e) / 255 for e in args.eps.split(",")], args.steps,
                        [float(c) for c in args.cw_const.split(",")], args.cw_steps)
    release = args.release or Path(args.classifier_run).name
    rows = caf_distance(model, release, data, args.out, points=points, n=args.n, batch_size=args.batch_size,
                        seed=args.seed, precision=args.precision)
    print(f"{release}: class activation feature distance and fooling rate, first {args.n} test images\n")
    print(format_caf_distance(rows), end="")
    return 0


def _figure(args: argparse.Namespace) -> int:
    from .report_figures import figure3, figure5, figure6

    if args.number == "6":
        data = figure6(args.results, args.out, eps_min=args.eps_min / 255, eps_max=args.eps_max / 255)
    elif args.number == "5":
        attacks = args.attacks.split(",") if args.attacks else None
        data = figure5(args.results, args.out, threat=args.threat, attacks=attacks)
    else:
        data = figure3(args.results, args.out, distance=args.distance)
    series = len(data.get("lines", data.get("variants", [])))
    print(f"{args.out}: Figure {args.number}, {series} series; its data in {Path(args.out).with_suffix('.json')}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import table1, threat_table
    from .report_tables import parse_labels, table2, table3

    attacks = args.attacks.split(",") if args.attacks else None
    if args.table == "2":
        text = table2(args.results, attacks=attacks, labels=parse_labels(args.label))
    elif args.table == "3":
        text = table3(args.results, attacks=attacks, threats=args.threat.split(",") if args.threat else None,
                      labels=parse_labels(args.label))
    elif len(args.results) > 1:
        raise ValueError(f"Table 1 and --release read one results file, got {len(args.results)}; "
                         "--table 2 or 3 takes several")
    elif args.release:
        text = threat_table(args.results[0], args.release)
    else:
        text = table1(args.results[0], threat=args.threat or "oblivious", attacks=attacks)
    if args.out:
        Path(args.out).write_text(text)
    print(text, end="")
    return 0


def _add_defended_model_arguments(p: argparse.ArgumentParser) -> None:
    """What evaluate and sweep attack: a release, or a classifier run with a denoiser or purifier; and the data."""
    p.add_argument("--model", help="a defended zoo release")
    p.add_argument("--classifier-run", help="a train-classifier --out folder or a zoo classifier release, instead of --model")
    p.add_argument("--classifier-config", help="the YAML config of that classifier")
    p.add_argument("--denoiser", help="a train-denoiser denoiser.safetensors (or a zoo release) to put in front")
    p.add_argument("--purifier", help="instead of --denoiser, a baseline purifier: jpeg (quality 75), jpeg_diff "
                   "(kornia's differentiable JPEG: a true white-box JPEG) or tvm (weight 0.003); jpeg:Q, jpeg_diff:Q set "
                   "the quality")
    p.add_argument("--release", help="the name recorded in the results (default: derived from the run folders)")
    p.add_argument("--data", help="data folder with the test split")
    p.add_argument("--embedded", action="store_true", help="use the embedded first 1,000 CIFAR-10 test images instead")
    p.add_argument("--seed", type=int, default=0, help="seed of the attacks' random starts (default 0)")
    p.add_argument("--batch-size", type=int, default=250, help="images per attack batch (default 250)")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"], help="default: bf16 where native")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")


def _add_crafting_arguments(p: argparse.ArgumentParser) -> None:
    """What craft-cafa and craft-adversarial share: the classifier, the data, the shards and how they are run."""
    p.add_argument("--classifier-run", required=True,
                   help="a train-classifier --out folder (holds model.safetensors), or a zoo classifier release such as resnet20_cifar10")
    p.add_argument("--classifier-config", required=True, help="the YAML config that classifier was trained with")
    p.add_argument("--data", required=True, help="data folder of the classifier's data set")
    p.add_argument("--out", required=True, help="folder for the shards")
    p.add_argument("--shard-size", type=int, default=1000, help="images per shard (default 1000)")
    p.add_argument("--batch-size", type=int, default=250, help="images per attack batch (default 250)")
    p.add_argument("--limit", type=int, help="only the first N training images")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts (default 0)")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"], help="default: bf16 where native")
    p.add_argument("--device", help="cpu, cuda, ... (default: this process's GPU if any, else cpu)")


def _add_export_arguments(p: argparse.ArgumentParser, *, machine: str, summary: str) -> None:
    """The options every export command shares: where the release goes and what is recorded with it."""
    p.add_argument("--manifest", default="weights_manifest.json", help="manifest to update (default: ./weights_manifest.json)")
    p.add_argument("--out", default="cafd_zoo/release", help="output folder (default: cafd_zoo/release, the package)")
    p.add_argument("--repo-id", help="Hugging Face repository (org/name); without it the file ships in the package")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"], help="stored precision")
    p.add_argument("--machine", help=f"{machine}, for the record")
    p.add_argument("--code-commit", help="the commit the run used (default: the one in result.json)")
    p.add_argument("--summary", help=f"one sentence for the manifest and model card (default: {summary})")


def _add_denoiser_run_arguments(p: argparse.ArgumentParser) -> None:
    """The options train-denoiser and finetune-denoiser share."""
    p.add_argument("--config", required=True, help="a YAML file from training/configs/denoiser/")
    p.add_argument("--classifier-run", required=True, help="a train-classifier --out folder (holds model.safetensors), or a zoo classifier release such as resnet20_cifar10")
    p.add_argument("--classifier-config", required=True, help="the YAML config that classifier was trained with")
    p.add_argument("--cafa-dir", "--adversarial-dir", help="the craft-cafa / craft-adversarial shard folder (for "
                   "configs with adversarial_source: offline; HGD and APE-G configs need one of their training_attack)")
    p.add_argument("--data", required=True, help="data folder of the classifier's data set")
    p.add_argument("--out", required=True, help="run folder for checkpoint, log and weights")
    p.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: this process's GPU if any, else cpu)")
    p.set_defaults(func=_train_denoiser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Make, export and publish CAFD zoo weights.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "publish", help="upload an exported release to the Hub (or a mirror folder) and pin its commits",
        description="Upload each Hub repository folder of an exported release with huggingface_hub.HfApi "
        "(token from HF_TOKEN or `hf auth login`), or copy it into a mirror folder, then record the commit each "
        "upload produced as the pinned revision in the manifest; the release becomes published (Hub) or stored "
        "(mirror folder, e.g. the repository's release store hub/). --export-dir may itself be a release store.",
    )
    p.add_argument("release", help="the release name, as in the manifest")
    p.add_argument("--export-dir", required=True, help="the folder export wrote (holds <repo_id>/ folders), or a release store")
    p.add_argument("--manifest", default="weights_manifest.json", help="manifest to update (default: ./weights_manifest.json)")
    p.add_argument("--mirror-root", help="copy into this mirror folder (served by `cafd mirror serve`) instead of uploading")
    p.set_defaults(func=_publish)

    p = sub.add_parser(
        "train-classifier", help="train a target classifier (resumable; torchrun for several processes)",
        description="Train the classifier a config describes on CIFAR-10 or SVHN. Writes checkpoint.pt (atomic; "
        "every checkpoint_every steps, every epoch and on SIGINT/SIGTERM), metrics.jsonl, and at the end "
        "model.safetensors and result.json into --out. Several processes: torchrun --nproc_per_node=N -m training "
        "train-classifier ... (gloo on CPU, nccl on GPU).",
    )
    p.add_argument("--config", required=True, help="a YAML file from training/configs/")
    p.add_argument("--data", required=True, help="data folder (CIFAR-10: holds cifar-10-batches-bin/ or -py/; SVHN: *_32x32.mat)")
    p.add_argument("--out", required=True, help="run folder for checkpoint, log and weights")
    p.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: this process's GPU if any, else cpu)")
    p.set_defaults(func=_train_classifier)

    p = sub.add_parser(
        "export-classifier", help="turn a finished train-classifier run into a release of the manifest",
        description="Write the run's weights as a release (a Hub repository folder with --repo-id, else a package "
        "file for an embedded release) and its manifest entry: sha256, size, parameters, and the clean test error "
        "the run measured on its whole test split, with the command that reproduces it.",
    )
    p.add_argument("--run", required=True, help="the train-classifier --out folder (model.safetensors, result.json)")
    p.add_argument("--config", required=True, help="the YAML config the run was trained with")
    p.add_argument("--release", required=True, help="release name, e.g. resnet20_cifar10")
    _add_export_arguments(p, machine="the machine the run used", summary="architecture and data set")
    p.set_defaults(func=_export_classifier)

    p = sub.add_parser(
        "export-defended", help="turn a finished train-denoiser run plus a released classifier into a defended release",
        description="Write the run's denoiser as a release file (a Hub repository folder with --repo-id, else a package "
        "file) and a defended release that references the released classifier, after checking that the classifier "
        "the run was trained against holds exactly that release's weights. With --results (evaluate's JSON lines "
        "for this release), every (attack, threat model) row and the clean errors become the release's metrics, each "
        "with the command that reproduces it. Summary and deviations already in the manifest are kept.",
    )
    p.add_argument("--run", required=True, help="the train-denoiser --out folder (denoiser.safetensors, result.json)")
    p.add_argument("--config", required=True, help="the denoiser YAML config the run was trained with")
    p.add_argument("--classifier", required=True, help="the classifier release to put behind the denoiser, e.g. resnet20_cifar10")
    p.add_argument("--classifier-run", required=True, help="what the run's --classifier-run was (folder or release name)")
    p.add_argument("--release", required=True, help="the defended release's name, e.g. cafd_resnet20_cifar10")
    p.add_argument("--results", action="append", help="evaluate's results file for --release (becomes the metrics; repeat for several)")
    p.add_argument("--embedded", action="store_true", help="the results were computed with evaluate --embedded")
    _add_export_arguments(p, machine="the machine the evaluation ran on", summary="the manifest's")
    p.add_argument("--weights-id", help="the denoiser file's manifest key (default: the release's, else "
                   "dunet<width>_<name>, apegan<width>_<name> for APE-G)")
    p.add_argument("--command", action="append", help="a command of the recipe, in order (repeat); recorded as provenance")
    p.set_defaults(func=_export_defended)

    p = sub.add_parser(
        "craft-cafa", help="craft the offline CAFA copy of a training set, in resumable shards",
        description="Run CAFA (paper Algorithm 1) against a trained classifier on every training image, as the "
        "official code does before denoiser training, and store the results as uint8 shards with their provenance "
        "(classifier sha256, preset, seed). Running the same command again continues after the last whole shard.",
    )
    _add_crafting_arguments(p)
    p.add_argument("--preset", default="official", choices=["official", "paper"], help="CAFA preset (default: official, 100 steps)")
    p.add_argument("--steps", type=int, help="override the preset's number of steps")
    p.set_defaults(func=_craft_cafa)

    p = sub.add_parser(
        "craft-adversarial", help="craft the offline CAFA, CW-L2 or PGD copy of a training set, in resumable shards",
        description="craft-cafa for any training attack: CAFA (CAFD's data), non-targeted CW-L2 (the HGD and APE-G "
        "baselines' data, paper Table 1) or L-inf PGD (their primed variants, Table 3), against a trained classifier, "
        "stored as uint8 shards whose provenance records the attack and every parameter. Running the same command "
        "again continues after the last whole shard.",
    )
    p.add_argument("--attack", required=True, choices=["cafa", "cw_l2", "pgd"], help="the training attack")
    _add_crafting_arguments(p)
    p.add_argument("--steps", type=int, help="CAFA or PGD steps, or CW-L2 iterations per search step (default: CAFA "
                   "preset's, PGD 20, CW-L2 100)")
    p.add_argument("--preset", default="official", choices=["official", "paper"], help="CAFA's preset")
    p.add_argument("--eps", type=float, help="PGD: L-inf budget in units of 1/255 (default 8)")
    p.add_argument("--step-size", type=float, help="PGD: step in units of 1/255 (default 2)")
    p.add_argument("--search-steps", type=int, help="CW-L2: binary-search steps over the constant c (default 4)")
    p.add_argument("--confidence", type=float, help="CW-L2: margin kappa (default 1)")
    p.set_defaults(func=_craft_cafa)

    p = sub.add_parser(
        "train-denoiser",
        help="train the CAFD denoiser (or the HGD / APE-G baseline) against a frozen classifier (resumable; torchrun-ready)",
        description="Train DUNET with the class activation feature loss and RaGAN (paper Algorithm 2) as a denoiser "
        "config describes (training/configs/denoiser/). Writes checkpoint.pt, metrics.jsonl, and at the end "
        "denoiser.safetensors and result.json into --out. A config with `method: hgd` or `method: ape_g` trains the "
        "HGD or APE-G baseline instead, on craft-adversarial shards (--adversarial-dir).",
    )
    _add_denoiser_run_arguments(p)

    p = sub.add_parser(
        "evaluate", help="error rates under attacks x threat models, as resumable JSON lines",
        description="Attack a defended model (a zoo release, or a classifier run plus a denoiser file) on the first "
        "--n test images under each threat model: bare (the classifier alone), oblivious (crafted on the bare "
        "classifier, judged through the denoiser), bpda (purifier backward = identity), whitebox (end to end), graybox "
        "(crafted on --surrogate-denoiser in front of the same classifier, judged on the real defense). One "
        "JSON line per (attack, threat model, shard) in --out; --resume skips finished cells.",
    )
    _add_defended_model_arguments(p)
    p.add_argument("--attacks", default="pgd_n,cafa",
                   help="comma-separated: pgd_n, pgd_t, cafa, ti_dim, ddn, cw_l2 (both minimum L2), autoattack, "
                   "square, sta, sta_t (flow, tau 0.05), fwa (Wasserstein eps 0.005), roa (7x7 occlusion) (default pgd_n,cafa)")
    p.add_argument("--eps", type=float, default=8.0, help="L-inf budget in units of 1/255 (default 8)")
    p.add_argument("--threat", default="oblivious,whitebox",
                   help="comma-separated: bare, oblivious, bpda, whitebox, graybox")
    p.add_argument("--surrogate-denoiser", help="graybox's surrogate: a separately trained train-denoiser --out folder "
                   "(or its denoiser.safetensors), or a zoo release with a denoiser")
    p.add_argument("--eot", type=int, default=1, help="average each attack gradient on a randomised defense (tvm) over "
                   "N random draws (EOT, Athalye et al. 2018); judging stays one draw (default 1)")
    p.add_argument("--n", type=int, default=1000, help="evaluate on the first N test images (default 1000)")
    p.add_argument("--steps", type=int, help="override each attack's default steps (PGD 20, CAFA 100, TI-DIM 10, "
                   "DDN 100, CW-L2 100 per search step, STA 100 L-BFGS iterations, FWA 300)")
    p.add_argument("--shard-size", type=int, default=500, help="images per resumable cell (default 500)")
    p.add_argument("--out", required=True, help="results file (JSON lines), appended to")
    p.add_argument("--resume", action="store_true", help="skip the (attack, threat, shard) cells --out already holds")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "sweep", help="error against eps and steps, with the gradient-masking checks",
        description="Attack one threat model at several budgets (every --eps at the base steps, every --steps at the "
        "base eps) on the first --n test images, one JSON line per point (a rerun skips finished points), then check "
        "that error never falls as eps or steps grow and that an unbounded budget (255) reaches at least 99%%: the "
        "checks that catch gradient masking. PGD's step size is max(2/255, 2.5 eps / steps).",
    )
    _add_defended_model_arguments(p)
    p.add_argument("--attack", default="pgd_n", help="one attack of evaluate's list (default pgd_n)")
    p.add_argument("--threat", default="whitebox", help="one threat model (default whitebox)")
    p.add_argument("--eps", default="2,4,8,16,255", help="budgets in units of 1/255 (default 2,4,8,16,255)")
    p.add_argument("--steps", default="5,10,20,50", help="step counts (default 5,10,20,50)")
    p.add_argument("--base-eps", type=float, default=8.0, help="eps of the steps series, in 1/255 (default 8)")
    p.add_argument("--base-steps", type=int, default=20, help="steps of the eps series (default 20)")
    p.add_argument("--n", type=int, default=500, help="the first N test images (default 500)")
    p.add_argument("--out", required=True, help="results file (JSON lines), appended to")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("report", help="render evaluation results as Markdown tables like the paper's Tables 1-3",
                       description="Rows: the releases in the results file; columns: attacks; cells: error rate (%%) "
                       "under one threat model, with the clean error beside.")
    p.add_argument("results", nargs="+", help="results file(s) written by `evaluate` (tables 2 and 3 take several)")
    p.add_argument("--table", default="1", choices=["1", "2", "3"],
                   help="1: releases x attacks under one threat model (default); 2: each target model without and "
                   "with its defense (bare vs oblivious rows); 3: defended models under adaptive threat models. "
                   "Missing cells: —")
    p.add_argument("--threat", help="Table 1: its threat model (default oblivious); Table 3: comma-separated rows "
                   "(default: every threat model found but bare)")
    p.add_argument("--release", help="instead: one release's table of attacks x threat models (bare, oblivious, ...)")
    p.add_argument("--attacks", help="comma-separated column order (default: every attack found)")
    p.add_argument("--label", action="append", help="tables 2 and 3: RELEASE=TARGET:DEFENSE, e.g. "
                   "cafd_vgg19_cifar10=VGG-19:CAFD (default: read from the release name); repeat for several")
    p.add_argument("--out", help="also write the table to this file")
    p.set_defaults(func=_report)

    p = sub.add_parser("figure", help="draw the paper's Figure 3, 5 or 6 from results files, as PNG plus its data",
                       description="6: error rate against eps (6/255 to 16/255), one line per defense and threat "
                       "model, from `sweep` results; 5: the ablation, error rate per denoiser variant (release) and "
                       "attack, from `evaluate` results; 3: class activation feature distance against fooling rate, "
                       "from `caf-distance` results. The data drawn is written beside the PNG (same name, .json).")
    p.add_argument("number", choices=["3", "5", "6"], help="which figure")
    p.add_argument("results", nargs="+", help="the results file(s) to draw from")
    p.add_argument("--out", required=True, help="the PNG to write (its data goes to the same name with .json)")
    p.add_argument("--threat", default="oblivious", help="Figure 5: the threat model of the bars (default oblivious)")
    p.add_argument("--attacks", help="Figure 5: comma-separated attack order (default: every attack found)")
    p.add_argument("--eps-min", type=float, default=6.0, help="Figure 6: smallest eps drawn, in 1/255 (default 6)")
    p.add_argument("--eps-max", type=float, default=16.0, help="Figure 6: largest eps drawn, in 1/255 (default 16)")
    p.add_argument("--distance", default="caf_distance", choices=["caf_distance", "caf_l2"],
                   help="Figure 3: the official MSE of normalised Phi (default) or the L2 norm of raw Phi")
    p.set_defaults(func=_figure)

    p = sub.add_parser(
        "caf-distance", help="fooling rate and class activation feature distance per attack and budget (Figure 3)",
        description="Attack the bare classifier on the first --n test images with each attack at each budget (eps for "
        "bim and pgd_n, the constant c for cw_l2; budget 0 is the natural image) and record the fooling rate and the "
        "mean distance between the class activation features of natural and adversarial images. One JSON line per "
        "(attack, budget) in --out; a rerun skips the points it holds.",
    )
    p.add_argument("--classifier-run", required=True, help="a train-classifier --out folder or a classifier release")
    p.add_argument("--classifier-config", required=True, help="the YAML config of that classifier")
    p.add_argument("--data", help="data folder with the test split")
    p.add_argument("--embedded", action="store_true", help="use the embedded first 1,000 CIFAR-10 test images instead")
    p.add_argument("--attacks", default="bim,pgd_n,cw_l2", help="comma-separated: bim, pgd_n, cw_l2 (default: all)")
    p.add_argument("--eps", default="0,1,2,4,8,16", help="bim and pgd_n budgets in 1/255 (default 0,1,2,4,8,16)")
    p.add_argument("--steps", type=int, default=10, help="bim and pgd_n steps (default 10)")
    p.add_argument("--cw-const", default="0,0.001,0.01,0.1,1", help="cw_l2 constants c (default 0,0.001,0.01,0.1,1)")
    p.add_argument("--cw-steps", type=int, default=100, help="cw_l2 Adam iterations at each c (default 100)")
    p.add_argument("--n", type=int, default=500, help="the first N test images (default 500)")
    p.add_argument("--release", help="the name recorded in the results (default: the --classifier-run folder's name)")
    p.add_argument("--batch-size", type=int, default=250, help="images per attack batch (default 250)")
    p.add_argument("--seed", type=int, default=0, help="seed of PGD's random starts (default 0)")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="of the attacks (default: bf16 where native); distances are measured in fp32")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--out", required=True, help="results file (JSON lines), appended to")
    p.set_defaults(func=_caf_distance)

    p = sub.add_parser(
        "finetune-denoiser", help="adapt a released (or earlier) denoiser to another classifier or data set",
        description="train-denoiser, starting from the weights of --init instead of random ones: a released "
        "denoiser by zoo name (downloaded and sha256-checked through cafd_zoo.load; a defended release gives its "
        "denoiser) or the denoiser.safetensors of an earlier run. The config's denoiser architecture must match it; "
        "its schedule, losses and data decide the fine-tuning.",
    )
    p.add_argument("--init", required=True, help="zoo release name (e.g. cafd_denoiser_cifar10) or a denoiser.safetensors file")
    _add_denoiser_run_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ZooError, ValueError, OSError) as exc:
        print(f"python -m training: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
