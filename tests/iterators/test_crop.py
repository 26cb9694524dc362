"""The unlabeled stream's opt-in crop, on the real FSDD split's audio."""

import argparse

import numpy as np
import pytest
import soundfile
from espnet2.train.distributed_utils import DistributedOption

from conftest import train_args
from espnet_bljust.data.list_checks import read_list
from espnet_bljust.iterators.batch_bins import padded_bins, shape_lengths
from espnet_bljust.iterators.crop import crop_offset, max_length_option
from espnet_bljust.tasks.bljust import BLJUSTTask


def unlabeled_stream(data, exp, *extra):
    args = BLJUSTTask.get_parser().parse_args(train_args(data, exp, *extra))
    return BLJUSTTask.build_iter_factory(args, DistributedOption(), "train").unlabeled


def one_pass(stream):
    """{uid: speech (L,)} and the (B, T) shapes of one pass over ``stream``."""
    speech, shapes = {}, []
    for uids, batch in stream.take(stream.batches_per_pass):
        shapes.append(tuple(batch["speech"].shape))
        for uid, wave, length in zip(uids, batch["speech"], batch["speech_lengths"]):
            speech[uid] = wave[: int(length)].numpy()
    stream.close()
    return speech, shapes


def labeled_bound(data, tmp_path) -> int:
    """The labeled stream's largest padded audio of a batch (B x longest)."""
    lengths = shape_lengths(str(data / "train_labeled" / "speech_shape"))
    args = BLJUSTTask.get_parser().parse_args(train_args(data, tmp_path / "l"))
    labeled = BLJUSTTask.build_iter_factory(args, DistributedOption(), "train").labeled
    return max(padded_bins(b, lengths) for b in labeled.batches)


def test_auto_crop_keeps_every_unlabeled_batch_within_the_labeled_stream(fsdd_small, tmp_path):
    labeled_len = shape_lengths(str(fsdd_small / "train_labeled" / "speech_shape"))
    unlabeled_len = shape_lengths(str(fsdd_small / "train_unlabeled" / "speech_shape"))
    longest = max(labeled_len.values())
    long_uids = [uid for uid, n in unlabeled_len.items() if n > longest]
    assert long_uids, "the split should hold unlabeled clips longer than the labeled ones"
    bound = labeled_bound(fsdd_small, tmp_path)

    options = ("--unlabeled_max_length", "auto", "--match_unlabeled_batch_bins", "true")
    speech, shapes = one_pass(unlabeled_stream(fsdd_small, tmp_path / "a", *options))
    assert sorted(speech) == sorted(unlabeled_len)  # every utterance, once
    assert max(t for _, t in shapes) <= longest
    assert max(b * t for b, t in shapes) <= bound
    for uid, n in unlabeled_len.items():
        assert len(speech[uid]) == min(n, longest), uid
    # a cropped utterance is a window of its audio, a short one is whole
    wav = {uid: path for _, uid, path in read_list(fsdd_small / "train_unlabeled" / "wav.scp")}
    for uid in long_uids[:3] + [min(unlabeled_len, key=unlabeled_len.get)]:
        audio, kept = soundfile.read(wav[uid], dtype="float32")[0], speech[uid]
        # where in the clip the kept samples lie, found by matching them
        starts = [int(i) for i in np.flatnonzero(audio[: len(audio) - len(kept) + 1] == kept[0])
                  if np.array_equal(audio[i : i + len(kept)], kept)]  # fmt: skip
        assert starts, uid
        # the window the stream drew for (seed 0, first pass, uid)
        assert crop_offset(uid, len(audio), longest, 0, 0) in starts, (uid, starts)

    # the same seed crops alike; another seed draws other windows
    again, _ = one_pass(unlabeled_stream(fsdd_small, tmp_path / "b", *options))
    assert all(np.array_equal(speech[u], again[u]) for u in speech)
    other, _ = one_pass(unlabeled_stream(fsdd_small, tmp_path / "c", *options, "--seed", "7"))
    assert any(not np.array_equal(speech[u], other[u]) for u in long_uids)


def test_offsets_are_drawn_per_seed_pass_and_utterance():
    draws = [crop_offset("george-0-12", 30000, 10000, seed, p) for seed in (0, 1) for p in range(4)]
    assert all(0 <= d <= 20000 for d in draws)
    assert len(set(draws)) > 1
    assert draws == [crop_offset("george-0-12", 30000, 10000, s, p) for s in (0, 1) for p in range(4)]
    assert crop_offset("george-0-12", 9000, 10000, 0, 0) == 0


def test_option_values():
    assert max_length_option("auto") == "auto"
    assert max_length_option("none") is None
    assert max_length_option(16000) == 16000
    assert max_length_option("16000") == 16000  # the command line's, as a YAML config's
    for bad in ("-5", "0", "1.5s"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected 'auto', 'none' or a positive"):
            max_length_option(bad)


def test_bucket_padding_leaves_few_batch_shapes_within_the_bound(fsdd_small, tmp_path):
    labeled_len = shape_lengths(str(fsdd_small / "train_labeled" / "speech_shape"))
    longest = max(labeled_len.values())
    options = ("--unlabeled_max_length", "auto", "--match_unlabeled_batch_bins", "true")
    plain, plain_shapes = one_pass(unlabeled_stream(fsdd_small, tmp_path / "a", *options))
    padded, shapes = one_pass(unlabeled_stream(
        fsdd_small, tmp_path / "b", *options, "--unlabeled_length_multiple", "1600"))  # fmt: skip
    lengths = {t for _, t in shapes}
    assert lengths <= {*range(1600, longest, 1600), longest}
    assert len(lengths) < len({t for _, t in plain_shapes})
    assert max(b * t for b, t in shapes) <= labeled_bound(fsdd_small, tmp_path)
    assert all(np.array_equal(plain[u], padded[u]) for u in plain)  # the audio is the same
