"""The protocol path at its smallest: just and bljust on a 2-speaker FSDD
split, 2 trials each, 2 seeds, a few ticks, an LM of 2 epochs."""

import json

import pytest
import torch
import yaml

from espnet_bljust.bin.score import score
from espnet_bljust.experiments import protocol_run
from espnet_bljust.experiments.decoding import read_text
from espnet_bljust.experiments.protocol import git_commit, load_protocol
from espnet_bljust.experiments.protocol_jobs import decode_test_set

SMALL = ("--encoder_conf num_blocks=1 --encoder_conf output_size=64 "
         "--encoder_conf linear_units=128 --encoder_conf attention_heads=2 --batch_size 8 "
         "--scheduler_conf warmup_steps=5 --lower_scheduler_conf warmup_steps=5")  # fmt: skip


@pytest.fixture(scope="module")
def split(fsdd_root, tmp_path_factory):
    """20 labeled, 8 unlabeled (one batch of 8: a pass is one draw), 20 dev, 20 test."""
    from espnet_bljust.corpora.fsdd import make_fsdd_split

    src = tmp_path_factory.mktemp("split") / "data"
    make_fsdd_split(fsdd_root, src, 1, 1, 1, 1, speakers=["george", "theo"])
    scp = src / "train_unlabeled" / "wav.scp"
    scp.write_text("".join(scp.read_text().splitlines(keepends=True)[:8]))
    return src


def write_protocol(path, data_dir, strategies=("just", "bljust"), **changes):
    grid = dict(supervised=[{}, {"train_args": "--optim_conf lr=0.004"}],
                pt_ft=[{}, {"exploration_frac": 0.5}],
                just=[{"train_args": "--just_weight 0.1"}, {"train_args": "--just_weight 0.3"}],
                bljust=[{"train_args": "--gamma_max 1.0"}, {"lower_steps_per_upper": 2}])  # fmt: skip
    raw = dict(corpus=dict(split="prepared", data_dir=str(data_dir)),
               config="espnet_bljust/conf/train_bljust_conformer_tiny.yaml", train_args=SMALL,
               upper_unsup_source="unlabeled", threads=1, budget=dict(passes=40, epochs=2),
               seeds=[1, 2], tuning=dict(seed=1, trials=2, defaults=dict(exploration_frac=0.2),
                                         grid={s: grid[s] for s in strategies}),
               checkpoint=dict(rules=["best", "ave2"]), decode=dict(beam_size=1, nj=1),
               lm=dict(config="egs2/fsdd/bljust1/conf/train_lm.yaml", weights=[0.5, 2],
                       beam_size=4, train_args="--max_epoch 2"))  # fmt: skip
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_protocol_end_to_end(split, tmp_path, capsys):
    protocol = write_protocol(tmp_path / "protocol.yaml", split)
    out, ledger = tmp_path / "out", tmp_path / "ledger"
    # tuning only: the choices are fixed, nothing of test is decoded
    protocol_run.run(protocol, out, "cmd", jobs=2, stop_before="final", ledger_dir=ledger)
    choices = json.loads((out / "choices.json").read_text())
    assert choices["protocol_sha256"] == load_protocol(protocol).sha256 and choices["commit"]
    assert set(choices["chosen"]) == {"just", "bljust"}
    assert choices["checkpoint_rule"] in ("best", "ave2")
    assert not list(out.rglob("decode_test*")) and not (out / "final").exists()
    fixed_at = (out / "choices.json").stat().st_mtime_ns
    with pytest.raises(RuntimeError, match="no fixed choices"):
        decode_test_set(str(out / "tune" / "just_t0"), str(out / "data"),
                        str(tmp_path / "none.json"), choices["protocol_sha256"])  # fmt: skip

    paths = protocol_run.run(protocol, out, "cmd", jobs=2, ledger_dir=ledger)
    assert (out / "choices.json").stat().st_mtime_ns == fixed_at  # reused, not redone
    saved = json.loads(paths["json"].read_text())
    runs = saved["runs"]
    assert len(runs) == 4 and saved["protocol_sha256"] == choices["protocol_sha256"]
    for run in runs:
        test = run["test"]
        assert test["protocol_sha256"] == choices["protocol_sha256"]
        exp = out / "final" / f"{run['strategy']}_seed{run['seed']}"
        # the recorded WERs are those of the decoded test hypotheses
        ref = read_text(out / "data" / "test" / "text")
        assert test["test_utts"] == len(ref) == 20
        for sub, key in (("decode_test", "test_wer"), ("decode_test_lm", "test_wer_lm")):
            hyp = read_text(exp / sub / "text")
            assert set(hyp) == set(ref) and test[key] == pytest.approx(score(ref, hyp)["wer"])
        # test decoded after the choices were fixed, once
        for sub in ("decode_test", "decode_test_lm"):
            assert (exp / sub / "text").stat().st_mtime_ns > fixed_at
        assert not list(exp.glob("decode_test_*ave*"))
        # the paper's penalty: f on the clean labeled pass, g on an unlabeled batch
        config = yaml.safe_load((exp / "config.yaml").read_text())
        assert config["upper_unsup_source"] == "unlabeled"
        # an unlabeled batch drawn in every joint tick, besides the lower steps' ones
        model = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)["model"]
        drawn = int(model["bilevel_state.unlabeled_pass"]) + int(
            model["bilevel_state.unlabeled_offset"])
        assert run["joint_upper_steps"] > 0
        assert drawn == run["lower_steps"] + run["joint_upper_steps"], run["strategy"]
        # the code each job ran: the checkout's commit when it started
        assert set(run["commits"]) == {"train", "dev_lm", "test"}
        assert set(run["commits"].values()) == {git_commit()}
    passes = [r["passes"] for r in runs]
    assert max(passes) / min(passes) <= 1.05, passes
    results = paths["results"].read_text()
    assert f"ran at (strategy seed): training {git_commit()[:7]}" in results
    assert choices["protocol_sha256"] in results and "| bljust | 2 |" in results
    # BL-JUST over JUST with a bootstrap interval, CTC and CTC + LM
    assert results.count("- BL-JUST / just (") == 2 and "95% interval (unadjusted) [" in results
    assert "- ratios (CTC) pool seeds 1, 2\n" in results
    png = paths["dev_cer_vs_compute"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert all(len(r["dev_curve"]) == 2 and r["dev_curve"][-1][0] == r["passes"] for r in runs)

    # called again: every run and decode reused
    capsys.readouterr()
    protocol_run.run(protocol, out, "cmd", jobs=2)
    assert "[start]" not in capsys.readouterr().out
    # a fresh checkout (no output folder, no models) with the ledger: the
    # records come back, only the LM's files are made again, the same report
    elsewhere = tmp_path / "elsewhere"
    again = protocol_run.run(protocol, elsewhere, "cmd", jobs=2, ledger_dir=ledger)
    printed = capsys.readouterr().out
    assert [line.split()[1] for line in printed.splitlines() if line.startswith("[start]")] == ["lm"]
    assert "[lm] trained again" not in printed  # the same weights
    assert json.loads(again["json"].read_text())["runs"] == json.loads(
        paths["json"].read_text().replace(str(out), str(elsewhere.resolve())))["runs"]
    # a changed protocol does not continue on choices fixed under the old one
    changed = write_protocol(tmp_path / "protocol.yaml", split, seeds=[1, 2, 3])
    with pytest.raises(SystemExit, match="was fixed under protocol"):
        protocol_run.run(changed, out, "cmd")


def test_tuning_on_two_seeds_picks_by_the_mean_dev_cer(split, tmp_path):
    protocol = write_protocol(tmp_path / "protocol.yaml", split, strategies=("bljust",), lm=None,
                              tuning=dict(seed=[1, 2], trials=2, grid=dict(bljust=[
                                  {"train_args": "--gamma_max 1.0"},
                                  {"lower_steps_per_upper": 2}])))  # fmt: skip
    out = tmp_path / "out"
    protocol_run.run(protocol, out, "cmd", jobs=2, stop_before="final")
    choices = json.loads((out / "choices.json").read_text())
    assert choices["tuning_seeds"] == [1, 2]
    runs = choices["run_dev_cer"]
    assert set(runs) == {f"bljust_t{t}_seed{s}" for t in (0, 1) for s in (1, 2)}
    for seed in (1, 2):  # each run trained with its own seed
        config = yaml.safe_load((out / "tune" / f"bljust_t0_seed{seed}" / "config.yaml").read_text())
        assert config["seed"] == seed
    for t in (0, 1):
        mean = (runs[f"bljust_t{t}_seed1"] + runs[f"bljust_t{t}_seed2"]) / 2
        assert choices["trial_dev_cer"][f"bljust_t{t}"] == pytest.approx(mean)
    best = min(("bljust_t0", "bljust_t1"), key=lambda n: (choices["trial_dev_cer"][n], n))
    assert choices["chosen"]["bljust"]["name"] == best
    # every run decoded on dev with every rule; the rule read the chosen trial's runs of both seeds
    decoded = {p.name[: -len(".dev_rules.json")]: json.loads(p.read_text())["value"]
               for p in (out / "tune").glob("*.dev_rules.json")}  # fmt: skip
    assert set(decoded) == set(runs)
    for rule, wer in choices["rule_dev_wer"].items():
        assert wer == pytest.approx((decoded[f"{best}_seed1"][rule]["wer"]
                                     + decoded[f"{best}_seed2"][rule]["wer"]) / 2)  # fmt: skip


def test_same_seed_same_initial_weights_and_data_order(split, tmp_path):
    """Every strategy's run with one seed builds the same model weights and
    draws the labeled batches in the same order."""
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
    from espnet2.train.distributed_utils import DistributedOption

    from espnet_bljust.tasks.bljust import BLJUSTTask

    strategies = ("supervised", "pt_ft", "just", "bljust")
    protocol = load_protocol(write_protocol(tmp_path / "p.yaml", split, strategies))
    data = protocol_run.prepare_data(protocol, tmp_path / "out")
    built = {}
    for strategy in strategies:
        trial = protocol.trials(strategy)[1]
        argv = protocol_run.run_argv(protocol, data, tmp_path / strategy, trial, seed=3)
        args = BLJUSTTask.get_parser().parse_args(argv)
        set_all_random_seed(args.seed)
        model = BLJUSTTask.build_model(args)
        factory = BLJUSTTask.build_iter_factory(args, DistributedOption(), "train")
        order = [next(factory.labeled)[0] for _ in range(4)]
        built[strategy] = ({k: v for k, v in model.state_dict().items()
                            if not k.startswith("bilevel_state")}, order)  # fmt: skip
    weights, order = built["supervised"]
    assert len(set(map(tuple, order))) > 1  # batches differ from each other
    for strategy in strategies[1:]:
        other, other_order = built[strategy]
        assert other.keys() == weights.keys()
        assert all(torch.equal(weights[k], other[k]) for k in weights), strategy
        assert other_order == order, strategy


def test_f_reads_the_unmasked_pass_under_the_protocol(split, tmp_path):
    """A bljust run the protocol builds: in its upper step f is the supervised
    loss of the clean labeled pass (equal to objective="supervised"), not of the
    masked pass that labeled_shared would give it; g reads the unlabeled batch."""
    from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
    from espnet2.train.distributed_utils import DistributedOption

    from espnet_bljust.tasks.bljust import BLJUSTTask

    protocol = load_protocol(write_protocol(tmp_path / "p.yaml", split))
    data = protocol_run.prepare_data(protocol, tmp_path / "out")
    argv = protocol_run.run_argv(protocol, data, tmp_path / "bl", protocol.trials("bljust")[0], 1)
    args = BLJUSTTask.get_parser().parse_args(argv)
    assert args.upper_unsup_source == "unlabeled"
    set_all_random_seed(1)
    model = BLJUSTTask.build_model(args).eval()  # no dropout, no SpecAugment: same passes
    factory = BLJUSTTask.build_iter_factory(args, DistributedOption(), "train")
    labeled, unlabeled = next(factory.labeled)[1], next(factory.unlabeled)[1]
    with torch.no_grad():
        clean, _, _ = model(**labeled, objective="supervised")
        (f, g), _, _ = model(**labeled, objective="joint", unsup_source=args.upper_unsup_source,
                             unlabeled_speech=unlabeled["speech"],
                             unlabeled_speech_lengths=unlabeled["speech_lengths"])  # fmt: skip
        (f_masked, _), _, _ = model(**labeled, objective="joint", unsup_source="labeled_shared")
    assert torch.equal(f, clean) and torch.isfinite(g)
    assert not torch.equal(f_masked, clean)  # the masked pass does differ
