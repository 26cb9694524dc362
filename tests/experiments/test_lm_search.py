"""The LM weight picked on dev, and when an LM decoding is reused."""

from espnet_bljust.experiments.lm_search import lm_key, pick_lm_weight, same_lm_decoding


def test_lm_weight_grid_grows_on_dev_only_while_its_edge_wins():
    def dev_wer(weight):  # best at 16, flat beyond
        return {0.5: 30.0, 1: 20.0, 2: 12.0, 4: 10.0, 8: 9.0, 16: 8.0}.get(weight, 8.0)

    scored = []

    def counted(weight):
        scored.append(weight)
        return dev_wer(weight)

    assert pick_lm_weight(counted, [1, 2, 4, 8]) == (8, {"1": 20.0, "2": 12.0, "4": 10.0,
                                                         "8": 9.0})  # fmt: skip
    chosen, scores = pick_lm_weight(dev_wer, [1, 2, 4, 8], max_weight=64)
    assert chosen == 16 and list(scores) == ["1", "2", "4", "8", "16", "32"]  # 32 ties: smaller
    scored.clear()
    assert pick_lm_weight(counted, [1, 2, 4, 8], max_weight=12)[0] == 8  # 16 > the cap
    assert scored == [1, 2, 4, 8]
    # the best inside the grid: nothing more is scored
    assert pick_lm_weight(lambda w: abs(w - 2), [4, 1, 2], max_weight=64) == (
        2, {"1": 1.0, "2": 0.0, "4": 2.0})
    scored.clear()
    assert pick_lm_weight(counted, [0.5, 1, 2], max_weight=64)[0] == 16
    assert scored == [0.5, 1, 2, 4, 8, 16, 32]


def test_lm_decodings_differing_in_max_weight_only_are_the_same():
    lm = {"model_file": "lm.pth", "digest": "abc"}
    key = lm_key(lm, [1, 2], 10)
    assert same_lm_decoding(key, lm_key(lm, [1, 2], 10, max_weight=64))
    assert same_lm_decoding(lm_key(lm, [1, 2], 10, 8), lm_key(lm, [1, 2], 10, max_weight=64))
    assert not same_lm_decoding(key, lm_key(lm, [1, 2, 4], 10))
    assert not same_lm_decoding(key, lm_key(lm, [1, 2], 4))
    assert not same_lm_decoding(key, lm_key({**lm, "digest": "abd"}, [1, 2], 10))
    assert not same_lm_decoding(None, key)
