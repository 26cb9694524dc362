"""The unsupervised loss of a BL-JUST model: its options checked, the rest derived.

The task derives ``encoder_output_size``, ``feature_size`` and ``stride`` from
the espnet2 model it built; ``unsup_loss_conf`` gives everything else.
"""

import argparse
import inspect
import logging

import torch
from espnet2.asr.espnet_model import ESPnetASRModel

from espnet_bljust.unsup import unsup_loss_choices
from espnet_bljust.unsup.abs_unsup_loss import AbsUnsupLoss


class UnsupLossConfError(ValueError):
    """unsup_loss_conf does not fit the chosen unsup_loss."""


# Arguments of every unsupervised loss that the task derives from the model.
UNSUP_DERIVED_ARGS = ("encoder_output_size", "feature_size", "stride")


def check_unsup_loss_conf(args: argparse.Namespace) -> None:
    """Fail early when ``unsup_loss_conf`` holds options that ``unsup_loss`` lacks.

    Typical cause: a config written for one loss (``negatives_from`` of the
    contrastive loss) run with ``--unsup_loss kmeans``; espnet2 merges a
    command-line ``--unsup_loss_conf`` into the config's dict instead of
    replacing it, so the stale key survives.
    """
    loss_class = unsup_loss_choices.get_class(args.unsup_loss)
    params = inspect.signature(loss_class.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # takes any option: its own __init__ has to judge them
    accepted = [n for n in params if n != "self" and n not in UNSUP_DERIVED_ARGS]
    unknown = sorted(set(args.unsup_loss_conf) - set(accepted))
    if unknown:
        config = getattr(args, "config", None)
        where = f" (config {config})" if config else ""
        raise UnsupLossConfError(
            f"unsup_loss_conf{where} sets {unknown}, which --unsup_loss "
            f"{args.unsup_loss} ({loss_class.__name__}) does not take; it takes "
            f"{accepted}. A command-line --unsup_loss_conf is merged into the "
            f"config's dict, not put in its place: use a config written for "
            f"{args.unsup_loss} (e.g. egs2/fsdd/bljust1/conf/tuning/)."
        )


@torch.no_grad()
def infer_encoder_stride(model: ESPnetASRModel, feature_size: int) -> int:
    """Feature frames per encoder output frame, measured with one probe pass.

    Works for any encoder (conv2d subsampling by 2, 4, 6, 8, or none). The
    global RNG state is left as it was.
    """
    probe_frames = 512
    with torch.random.fork_rng(devices=[]):
        was_training = model.training
        model.eval()
        feats = torch.zeros(1, probe_frames, feature_size)
        lens = torch.tensor([probe_frames])
        if model.preencoder is not None:
            feats, lens = model.preencoder(feats, lens)
        out_lens = lens
        if model.encoder is not None:
            _, out_lens, _ = model.encoder(feats, lens)
        model.train(was_training)
    return max(1, round(probe_frames / int(out_lens[0])))


def build_unsup_loss(args: argparse.Namespace, base: ESPnetASRModel) -> AbsUnsupLoss:
    """``--unsup_loss`` with ``--unsup_loss_conf`` on top of the sizes of ``base``."""
    feature_size = (
        base.frontend.output_size() if base.frontend is not None else args.input_size
    )
    encoder_size = (
        base.postencoder.output_size()
        if base.postencoder is not None
        else base.encoder.output_size()
    )
    stride = infer_encoder_stride(base, feature_size)
    unsup_class = unsup_loss_choices.get_class(args.unsup_loss)
    logging.info(f"unsupervised loss {args.unsup_loss}, encoder stride {stride}")
    return unsup_class(
        encoder_output_size=encoder_size,
        feature_size=feature_size,
        stride=stride,
        **args.unsup_loss_conf,
    )
