"""Reading a protocol: the committed one loads; a bad one is refused with
the file and the key named."""

import pytest
import yaml

from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.protocol import ProtocolError, load_protocol

PROTOCOL = REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "protocol.yaml"
DEMO_PROTOCOL = REPO / "egs2" / "demo" / "bljust1" / "conf" / "protocol.yaml"


def test_the_committed_protocol():
    protocol = load_protocol(PROTOCOL)
    assert protocol.strategies == ["supervised", "pt_ft", "just", "bljust"]
    assert len(protocol.seeds) >= 5
    assert {len(protocol.trials(s)) for s in protocol.strategies} == {3}
    assert protocol.raw["corpus"]["split"] == "unseen"
    assert protocol.raw["upper_unsup_source"] == "unlabeled"
    assert protocol.max_average() == 5 and len(protocol.sha256) == 64
    assert protocol.repo_path(protocol.raw["config"]).is_file()


def test_the_committed_demo_protocol_is_the_same_comparison():
    """The demo corpus's protocol differs from FSDD's in the corpus, config,
    budget and LM only: same strategies, trials, seeds and penalty."""
    demo, fsdd = load_protocol(DEMO_PROTOCOL), load_protocol(PROTOCOL)
    assert demo.raw["corpus"]["split"] == "espeak"
    assert demo.raw["corpus"]["dev_speakers"] == "held_out"
    assert demo.raw["corpus"]["num_test"] >= 1000 and demo.raw["corpus"]["num_dev"] >= 300
    assert demo.strategies == fsdd.strategies and demo.seeds == fsdd.seeds
    assert demo.raw["tuning"]["trials"] == fsdd.raw["tuning"]["trials"]
    assert demo.raw["upper_unsup_source"] == "unlabeled"
    for key in ("config",):
        assert demo.repo_path(demo.raw[key]).is_file()
    assert demo.repo_path(demo.raw["lm"]["config"]).is_file()


def test_an_espeak_corpus_needs_its_sizes(tmp_path):
    def edit(raw):
        raw["corpus"] = {"split": "espeak", "num_labeled": 10, "num_unlabeled": 0,
                         "num_dev": 5, "dev_speakers": "test"}

    with pytest.raises(ProtocolError, match="split espeak needs positive integers "
                       "num_unlabeled, num_test"):  # fmt: skip
        load_protocol(_write(tmp_path, edit))
    path = _write(tmp_path, lambda raw: edit(raw) or raw["corpus"].update(
        num_unlabeled=20, num_test=5))
    with pytest.raises(ProtocolError, match="corpus.dev_speakers"):
        load_protocol(path)


def _write(tmp_path, edit):
    raw = yaml.safe_load(PROTOCOL.read_text())
    edit(raw)
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unequal_tuning_budgets_are_refused(tmp_path):
    path = _write(tmp_path, lambda raw: raw["tuning"]["grid"]["bljust"].append({}))
    with pytest.raises(ProtocolError, match=rf"{path}: .*tuning.grid.bljust: 4 trials, "
                       "tuning.trials says 3"):  # fmt: skip
        load_protocol(path)


def test_bad_keys_are_named(tmp_path):
    def edit(raw):
        raw["tuning"]["grid"]["just"][0]["lambda"] = 0.3
        raw["checkpoint"]["rules"] = ["best", "last"]
        del raw["seeds"]

    with pytest.raises(ProtocolError, match="missing key 'seeds'"):
        load_protocol(_write(tmp_path, edit))
    path = _write(tmp_path, lambda raw: edit(raw) or raw.update(seeds=[1]))
    with pytest.raises(ProtocolError) as error:
        load_protocol(path)
    assert "tuning.grid.just[0]: unknown keys ['lambda']" in str(error.value)
    assert "checkpoint.rules" in str(error.value)


def test_tuning_on_several_seeds_names_a_run_per_seed(tmp_path):
    protocol = load_protocol(_write(tmp_path, lambda raw: raw["tuning"].update(seed=[1, 2])))
    trial = protocol.trials("bljust")[0]
    assert protocol.tuning_seeds == [1, 2]
    assert [protocol.tuning_run(trial, s) for s in (1, 2)] == ["bljust_t0_seed1", "bljust_t0_seed2"]
    single = load_protocol(_write(tmp_path, lambda raw: None))
    assert single.tuning_seeds == [single.raw["tuning"]["seed"]]
    assert single.tuning_run(trial, 1) == "bljust_t0"  # the committed protocols' run names
    for bad in ([1, 1], ["1"], []):
        path = _write(tmp_path, lambda raw: raw["tuning"].update(seed=bad))
        with pytest.raises(ProtocolError, match="tuning.seed: an integer, or a list of distinct"):
            load_protocol(path)


def test_the_wide_protocol_changes_the_tuning_only():
    """protocol_wide.yaml: the comparison of protocol.yaml (split, config,
    budget, seeds, rules) with 4 trials per strategy on 2 tuning seeds; every
    trial's options parse as bljust_train options."""
    from espnet_bljust.experiments.protocol_run import run_argv
    from espnet_bljust.tasks.bljust import BLJUSTTask

    wide, base = load_protocol(PROTOCOL.with_name("protocol_wide.yaml")), load_protocol(PROTOCOL)
    for key in ("corpus", "config", "train_args", "upper_unsup_source", "threads", "budget",
                "seeds", "checkpoint", "decode"):  # fmt: skip
        assert wide.raw[key] == base.raw[key], key
    assert wide.raw["lm"]["config"] == base.raw["lm"]["config"]
    assert wide.tuning_seeds == [1, 2]
    assert {len(wide.trials(s)) for s in wide.strategies} == {4}
    assert wide.strategies == base.strategies
    parser = BLJUSTTask.get_parser()
    for strategy in wide.strategies:
        for trial in wide.trials(strategy):
            argv = run_argv(wide, REPO / "data", REPO / "exp" / "unused", trial, 1)
            args = parser.parse_args(argv)
            assert args.strategy == strategy
            if "--pbgd_step_scaling false" in trial.train_args:
                assert args.pbgd_step_scaling is False
            if "warmup_steps=300" in trial.train_args:  # merged into the config's scheduler_conf
                assert args.scheduler_conf == {"warmup_steps": 300} and args.optim_conf["lr"] == 0.001
