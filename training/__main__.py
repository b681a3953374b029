"""``python -m training <command>``: the commands that make and publish weights."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from cafd_zoo.errors import ZooError

from .publish import publish


def _publish(args: argparse.Namespace) -> int:
    commits = publish(args.release, args.export_dir, args.manifest, mirror_root=args.mirror_root)
    for weights_id, commit in commits.items():
        print(f"{weights_id}: published at commit {commit}")
    print(f"{args.manifest}: {args.release} is now published with pinned revisions")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Make, export and publish CAFD zoo weights.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "publish", help="upload an exported release to the Hub (or a mirror folder) and pin its commits",
        description="Upload each Hub repository folder of an exported release with huggingface_hub.HfApi "
        "(token from HF_TOKEN or `hf auth login`), or copy it into a mirror folder, then record the commit each "
        "upload produced as the pinned revision in the manifest and mark the release published.",
    )
    p.add_argument("release", help="the release name, as in the manifest")
    p.add_argument("--export-dir", required=True, help="the folder export wrote (holds <repo_id>/ folders)")
    p.add_argument("--manifest", default="weights_manifest.json", help="manifest to update (default: ./weights_manifest.json)")
    p.add_argument("--mirror-root", help="copy into this mirror folder (served by `cafd mirror serve`) instead of uploading")
    p.set_defaults(func=_publish)
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
