"""Unlabeled mini-batches capped at the labeled stream's padded audio, on the
real FSDD split's shape files."""

from espnet2.train.distributed_utils import DistributedOption

from espnet_bljust.iterators.batch_bins import cap_batch_bins, padded_bins, shape_lengths
from espnet_bljust.tasks.bljust import BLJUSTTask

from conftest import train_args


def test_split_batches_keep_every_utterance_within_the_bound(fsdd_small):
    lengths = shape_lengths(str(fsdd_small / "train_unlabeled" / "speech_shape"))
    uids = sorted(lengths, key=lengths.get)
    batches = [uids[i : i + 12] for i in range(0, len(uids), 12)]
    bound = padded_bins(batches[0], lengths) * 2  # the shortest batch fits twice
    capped = cap_batch_bins(batches, lengths, bound)
    assert sorted(u for b in capped for u in b) == sorted(uids)
    assert all(padded_bins(b, lengths) <= bound for b in capped)
    assert capped[0] == batches[0]  # within the bound: unchanged
    assert len(capped) > len(batches)
    # never below the number of processes that shard each batch
    assert min(len(b) for b in cap_batch_bins(batches, lengths, 1, min_size=3)) >= 3


def test_task_option_bounds_the_unlabeled_stream_by_the_labeled_one(fsdd_small, tmp_path):
    def streams(*extra):
        args = BLJUSTTask.get_parser().parse_args(
            train_args(fsdd_small, tmp_path / "exp", *extra)
        )
        factory = BLJUSTTask.build_iter_factory(args, DistributedOption(), "train")
        return factory.labeled, factory.unlabeled

    labeled_len = shape_lengths(str(fsdd_small / "train_labeled" / "speech_shape"))
    unlabeled_len = shape_lengths(str(fsdd_small / "train_unlabeled" / "speech_shape"))
    labeled, unlabeled = streams()
    bound = max(padded_bins(b, labeled_len) for b in labeled.batches)
    assert max(padded_bins(b, unlabeled_len) for b in unlabeled.batches) > bound
    _, capped = streams("--match_unlabeled_batch_bins", "true")
    assert max(padded_bins(b, unlabeled_len) for b in capped.batches) <= bound
    assert sorted(u for b in capped.batches for u in b) == sorted(unlabeled_len)
