"""BatchStream: per-pass order, exact seek, sharding, clear load errors."""

import numpy as np
import pytest
import soundfile
from espnet2.train.collate_fn import CommonCollateFn
from espnet2.train.dataset import ESPnetDataset

from espnet_bljust.iterators.batch_stream import BatchStream, shard_batches
from espnet_bljust.data.list_checks import DataCheckError


@pytest.fixture()
def wav_scp(tmp_path):
    """Six short real-format wav files (noise) listed in a wav.scp."""
    rng = np.random.RandomState(0)
    lines = []
    for i in range(6):
        path = tmp_path / f"u{i}.wav"
        soundfile.write(path, rng.uniform(-0.1, 0.1, 1600 + 160 * i), 16000)
        lines.append(f"u{i} {path}\n")
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(lines))
    return scp


def make_stream(wav_scp, **kw):
    dataset = ESPnetDataset([(str(wav_scp), "speech", "sound")])
    batches = [["u0", "u1"], ["u2", "u3"], ["u4", "u5"]]
    return BatchStream(dataset, batches, CommonCollateFn(), seed=3, name="unlabeled", **kw)


def ids(items):
    return [tuple(keys) for keys, _ in items]


def test_passes_visit_every_batch_in_a_seeded_order(wav_scp):
    stream = make_stream(wav_scp)
    first, second = ids(stream.take(3)), ids(stream.take(3))
    assert sorted(first) == sorted(second) == [("u0", "u1"), ("u2", "u3"), ("u4", "u5")]
    assert stream.position == (1, 3)
    assert first == ids(make_stream(wav_scp).take(3))  # same seed, same order


def test_seek_continues_exactly_where_a_stream_stopped(wav_scp):
    reference = make_stream(wav_scp)
    all_items = list(reference.take(7))
    resumed = make_stream(wav_scp)
    resumed.seek(1, 1)  # as a checkpoint after 4 batches stores it
    rest = list(resumed.take(3))
    assert ids(rest) == ids(all_items[4:7])
    for (_, a), (_, b) in zip(rest, all_items[4:7]):
        assert np.array_equal(a["speech"].numpy(), b["speech"].numpy())
    with pytest.raises(ValueError, match="offset 9 outside 0..3"):
        resumed.seek(0, 9)


def test_shards_give_each_rank_its_slice_of_every_batch():
    batches = [["a", "b", "c", "d"], ["e", "f"]]
    assert shard_batches(batches, 0, 2, "x") == [["a", "c"], ["e"]]
    assert shard_batches(batches, 1, 2, "x") == [["b", "d"], ["f"]]
    with pytest.raises(RuntimeError, match="fewer than the 3 processes"):
        shard_batches(batches, 0, 3, "x")


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_file_gone_bad_during_training_names_the_batch(wav_scp, tmp_path, num_workers):
    stream = make_stream(wav_scp, shuffle=False, num_workers=num_workers)
    (tmp_path / "u3.wav").write_bytes(b"not audio any more")
    next(stream)  # u0, u1 still load
    with pytest.raises(DataCheckError) as e:
        next(stream)
    message = str(e.value)
    # one problem: one line, naming the stream, the batch and its utterances
    assert message.startswith(
        "unlabeled stream: pass 0, mini-batch 1: cannot load one of the utterances 'u2', 'u3'"
    )
    assert "\n" not in message
    assert "python -m espnet_bljust.bin.validate_data" in message
    assert stream.position == (0, 1)  # nothing consumed
