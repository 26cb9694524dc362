"""Batches loaded ahead in a thread: the same batches, positions and errors as
loading on demand, across passes and after a seek."""

import numpy as np
import pytest

from espnet_bljust.iterators.prefetch import Prefetcher

from iterators.test_batch_stream import ids, make_stream, wav_scp  # noqa: F401 (fixture)


def test_prefetched_stream_hands_out_what_loading_on_demand_does(wav_scp):  # noqa: F811
    eager, lazy = make_stream(wav_scp, prefetch=2), make_stream(wav_scp, prefetch=0)
    for _ in range(7):  # over two pass boundaries
        (k1, b1), (k2, b2) = next(eager), next(lazy)
        assert k1 == k2 and eager.position == lazy.position
        assert np.array_equal(b1["speech"].numpy(), b2["speech"].numpy())
    assert eager.position == (2, 1)


def test_seek_drops_the_batches_loaded_ahead(wav_scp):  # noqa: F811
    reference = ids(make_stream(wav_scp, prefetch=0).take(6))
    stream = make_stream(wav_scp, prefetch=2)
    next(stream)  # the thread has loaded ahead
    stream.seek(1, 1)
    assert ids(stream.take(2)) == reference[4:6]
    assert stream.position == (1, 3)
    stream.close()


def test_a_bad_file_is_reported_at_its_batch_with_prefetch(wav_scp, tmp_path):  # noqa: F811
    from espnet_bljust.data.list_checks import DataCheckError

    stream = make_stream(wav_scp, shuffle=False, prefetch=2)
    (tmp_path / "u5.wav").write_bytes(b"not audio any more")
    assert ids(stream.take(2)) == [("u0", "u1"), ("u2", "u3")]
    with pytest.raises(DataCheckError, match="pass 0, mini-batch 2: cannot load .*'u4', 'u5'"):
        next(stream)
    assert stream.position == (0, 2)


def test_prefetcher_raises_the_source_error_in_order():
    def source():
        yield 1
        yield 2
        raise KeyError("gone")

    ahead = Prefetcher(source(), depth=2)
    assert [next(ahead), next(ahead)] == [1, 2]
    with pytest.raises(KeyError, match="gone"):
        next(ahead)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        Prefetcher(iter(()), depth=0)
    assert list(Prefetcher(iter(range(5)), depth=1)) == list(range(5))
