"""BilevelIterFactory: an epoch is one pass over the stream its phase reads,
with every step reading ``accum_grad`` batches, as in espnet2."""

import pytest
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.dataset import ESPnetDataset

from espnet_bljust.bilevel.phases import Phase
from espnet_bljust.iterators.batch_stream import BatchStream
from espnet_bljust.iterators.bilevel_iter_factory import BilevelIterFactory

from iterators.test_batch_stream import wav_scp  # noqa: F401 (fixture)


@pytest.fixture()
def streams(wav_scp):  # noqa: F811
    """A labeled stream of 3 batches and an unlabeled one of 5 (short wav files)."""
    dataset = ESPnetDataset([(str(wav_scp), "speech", "sound")])

    def stream(name, batches):
        return BatchStream(dataset, batches, CommonCollateFn(), seed=0, name=name)

    labeled = stream("labeled", [["u0", "u1"], ["u2", "u3"], ["u4", "u5"]])
    unlabeled = stream("unlabeled", [[f"u{i}"] for i in range(5)])
    return labeled, unlabeled


@pytest.mark.parametrize("accum_grad, joint, exploration", [(1, 3, 5), (2, 2, 3), (4, 1, 2)])
def test_an_epoch_is_one_pass_whatever_accum_grad(streams, accum_grad, joint, exploration):
    labeled, unlabeled = streams
    epoch = BilevelIterFactory(labeled, unlabeled, accum_grad=accum_grad).build_iter(1)
    assert epoch.num_ticks(Phase.JOINT) == epoch.num_ticks(Phase.FINETUNE) == joint
    assert epoch.num_ticks(Phase.EXPLORATION) == exploration
    # the epoch's steps read the labeled stream's pass (the last step may run into the next)
    assert len(list(epoch)) == joint * accum_grad >= 3
    passes, offset = labeled.position
    assert 3 * passes + offset == joint * accum_grad


def test_num_iters_per_epoch_counts_ticks(streams):
    labeled, unlabeled = streams
    epoch = BilevelIterFactory(labeled, unlabeled, 7, accum_grad=2).build_iter(1)
    assert epoch.num_ticks(Phase.JOINT) == epoch.num_ticks(Phase.EXPLORATION) == 7
