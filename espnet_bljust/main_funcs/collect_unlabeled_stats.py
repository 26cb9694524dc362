"""Feature statistics of the unlabeled stream, merged into the training stats.

espnet2's ``--collect_stats true`` accumulates ``count``, ``sum`` and
``sum_square`` of the model's features (``collect_feats``) over the labeled
training and validation lists only. BL-JUST's encoder also sees the unlabeled
stream, usually many times larger, so ``global_mvn`` should be estimated on
both. These helpers run espnet2's own ``collect_stats`` over the unlabeled
lists and add the sums into ``<output_dir>/train/<key>_stats.npz``.
"""

import logging
import shutil
from pathlib import Path
from typing import Dict, Iterable, List

import numpy as np

from espnet2.main_funcs.collect_stats import collect_stats

STAT_FIELDS = ("count", "sum", "sum_square")


def stats_keys(stats_dir: Path) -> List[str]:
    """The feature names listed in ``<stats_dir>/stats_keys`` (written by collect_stats)."""
    path = stats_dir / "stats_keys"
    if not path.is_file():
        return []
    return [k for k in path.read_text(encoding="utf-8").split() if k]


def add_stats(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Sum two ``{count, sum, sum_square}`` accumulators; ``sum``: (D,)."""
    if np.shape(a["sum"]) != np.shape(b["sum"]):
        raise ValueError(
            f"feature dimensions differ: {np.shape(a['sum'])} vs {np.shape(b['sum'])}"
        )
    return {field: np.asarray(a[field]) + np.asarray(b[field]) for field in STAT_FIELDS}


def merge_into_train_stats(output_dir: Path, unlabeled_dir: Path) -> List[str]:
    """Add the unlabeled sums into ``output_dir/train/<key>_stats.npz``.

    Call it right after espnet2's collect_stats wrote the labeled sums; they
    are kept as ``<key>_stats.labeled.npz`` next to the merged file.

    Returns:
        the merged feature names.
    """
    train_dir = output_dir / "train"
    merged = []
    for key in stats_keys(unlabeled_dir):
        target = train_dir / f"{key}_stats.npz"
        labeled_only = train_dir / f"{key}_stats.labeled.npz"
        shutil.copyfile(target, labeled_only)
        with np.load(labeled_only) as a, np.load(unlabeled_dir / f"{key}_stats.npz") as b:
            total = add_stats(dict(a), dict(b))
        tmp = train_dir / f".{key}_stats.tmp.npz"
        np.savez(tmp, **total)
        tmp.replace(target)
        merged.append(key)
    return merged


def collect_unlabeled_stats(
    model, unlabeled_iter: Iterable, output_dir: Path, ngpu: int, log_interval
) -> Path:
    """Run espnet2's ``collect_stats`` on the unlabeled stream and merge.

    espnet2's function always walks a train and a valid iterator; the valid
    side is given the stream's first batch only and then discarded. The
    unlabeled shapes (``speech_shape``) and statistics land in
    ``output_dir/unlabeled``.

    Returns:
        the ``output_dir/unlabeled`` directory.
    """
    first = []
    for item in unlabeled_iter:
        first.append(item)
        break
    if not first:
        raise RuntimeError("the unlabeled stream is empty: nothing to collect")
    work = output_dir / "unlabeled.collecting"
    shutil.rmtree(work, ignore_errors=True)
    collect_stats(
        model=model,
        train_iter=unlabeled_iter,
        valid_iter=first,
        output_dir=work,
        ngpu=ngpu,
        log_interval=log_interval,
        write_collected_feats=False,
    )
    final = output_dir / "unlabeled"
    shutil.rmtree(final, ignore_errors=True)
    (work / "train").rename(final)
    shutil.rmtree(work, ignore_errors=True)
    merged = merge_into_train_stats(output_dir, final)
    logging.info(f"unlabeled statistics {merged} added to {output_dir / 'train'}")
    return final
