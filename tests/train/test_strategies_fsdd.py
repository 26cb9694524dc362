"""Every strategy trains on real FSDD speech, then decodes with espnet2's own
asr_inference and Speech2Text. (Exact resume: test_kill_resume_fsdd.py.)"""

from pathlib import Path

import pytest
import soundfile
import torch
from espnet2.bin import asr_inference
from espnet2.bin.asr_inference import Speech2Text
from espnet2.train.reporter import Reporter

from conftest import train_args
from espnet_bljust.bilevel.penalty_schedule import PenaltySchedule
from espnet_bljust.bin import bljust_train
from espnet_bljust.bin.score import read_text

COMMON = [
    "--max_epoch", "2",
    "--num_iters_per_epoch", "6",
    "--phase_unit", "tick",
    "--grad_cosine_interval", "2",
    "--scheduler_conf", "warmup_steps=10",
    "--lower_scheduler_conf", "warmup_steps=10",
]  # fmt: skip
STRATEGIES = {
    # strategy: (extra args, expected lower steps, expected upper steps)
    "bljust": (["--exploration_len", "2", "--joint_len", "6", "--finetune_len", "4",
                "--lower_steps_per_upper", "2"], 2 + 6 * 2, 6 + 4),
    "just": (["--exploration_len", "0", "--finetune_len", "0"], 0, 12),
    "pt_ft": (["--exploration_len", "4"], 4, 8),
    "supervised": ([], 0, 12),
}  # fmt: skip
NUM_DECODED = 20


def final_state(exp: Path) -> dict:
    states = torch.load(exp / "checkpoint.pth", map_location="cpu", weights_only=False)
    return states


DECODE_OPTIONS = dict(ctc_weight=1.0, lm_weight=0.0, beam_size=2)


def decode(exp: Path, data: Path, out: Path) -> dict:
    """Decode the first test utterances with espnet2.bin.asr_inference:
    {utterance id: hypothesis}."""
    keys = out / "keys"
    out.mkdir(parents=True)
    lines = (data / "test" / "wav.scp").read_text().splitlines()[:NUM_DECODED]
    keys.write_text("".join(line + "\n" for line in lines))
    options = [f"--{name}={value}" for name, value in DECODE_OPTIONS.items()]
    asr_inference.main([
        "--ngpu", "0",
        "--data_path_and_name_and_type", f"{data / 'test' / 'wav.scp'},speech,sound",
        "--key_file", str(keys),
        "--asr_train_config", str(exp / "config.yaml"),
        "--asr_model_file", str(exp / "latest.pth"),
        "--output_dir", str(out),
        *options,
    ])  # fmt: skip
    hyps = read_text(out / "1best_recog" / "text")
    assert len(hyps) == NUM_DECODED
    return hyps


def speech2text(exp: Path) -> Speech2Text:
    """The run's latest weights in espnet2's Speech2Text, with DECODE_OPTIONS."""
    return Speech2Text(asr_train_config=str(exp / "config.yaml"),
                       asr_model_file=str(exp / "latest.pth"), device="cpu", **DECODE_OPTIONS)  # fmt: skip


def transcribe(s2t: Speech2Text, data: Path, count: int) -> dict:
    """The first ``count`` test utterances through Speech2Text: {utterance id: text}."""
    texts = {}
    for line in (data / "test" / "wav.scp").read_text().splitlines()[:count]:
        uid, path = line.split(maxsplit=1)
        wave, rate = soundfile.read(path)
        assert rate == 16000
        texts[uid] = s2t(torch.tensor(wave, dtype=torch.float32))[0][0]
    return texts


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_strategy_trains_and_decodes(strategy, fsdd_small, tmp_path):
    extra, lower_steps, upper_steps = STRATEGIES[strategy]
    exp = tmp_path / "exp"
    bljust_train.main(
        train_args(fsdd_small, exp, "--strategy", strategy, *COMMON, *extra)
    )
    states = final_state(exp)
    model = states["model"]
    assert int(model["bilevel_state.ticks"]) == 12
    assert int(model["bilevel_state.lower_steps"]) == lower_steps
    assert int(model["bilevel_state.upper_steps"]) == upper_steps
    assert int(model["bilevel_state.skipped_steps"]) == 0
    if strategy == "bljust":
        # gamma after the last joint upper step (5) of a ramp over the 6 joint steps
        expected = PenaltySchedule(0.1, 1.0, "linear", 6)(5)
        assert float(model["bilevel_state.gamma"]) == pytest.approx(expected, rel=1e-5)
    if strategy == "just":
        assert float(model["bilevel_state.gamma"]) == pytest.approx(0.3)

    reporter = Reporter()
    reporter.load_state_dict(states["reporter"])
    train_keys = set(reporter.stats[2]["train"])
    if strategy in ("bljust", "just"):
        assert {"loss_sup", "loss_unsup_upper", "gamma", "grad_norm_upper"} <= train_keys
    if strategy in ("bljust", "pt_ft"):
        assert {"loss_unsup_lower", "grad_norm_lower"} <= set(reporter.stats[1]["train"])
    if strategy == "bljust":
        assert "grad_cos" in train_keys or "grad_cos" in reporter.stats[1]["train"]
    # the supervised loss on dev goes down while the model is trained on labels
    assert reporter.get_value("valid", "loss_ctc", 2) < reporter.get_value("valid", "loss_ctc", 1)

    # espnet2's asr_inference and its Speech2Text read the trained model alike
    hyps = decode(exp, fsdd_small, tmp_path / "decode")
    s2t = speech2text(exp)
    texts = transcribe(s2t, fsdd_small, 3)
    assert texts == {uid: hyps[uid] for uid in texts}


def test_speech2text_loads_the_trained_weights(fsdd_small, tmp_path):
    """Trained with --use_amp (bf16 autocast on CPU), decoded in fp32."""
    exp = tmp_path / "exp"
    bljust_train.main(
        train_args(fsdd_small, exp, "--strategy", "bljust", *COMMON, "--max_epoch", "1",
                   "--exploration_len", "2", "--joint_len", "4", "--use_amp", "true")
    )  # fmt: skip
    states = final_state(exp)
    assert "scaler" in states and int(states["model"]["bilevel_state.skipped_steps"]) == 0
    assert int(states["model"]["bilevel_state.upper_steps"]) == 4
    s2t = speech2text(exp)
    trained = torch.load(exp / "latest.pth", map_location="cpu")
    for name, value in s2t.asr_model.state_dict().items():
        torch.testing.assert_close(value, trained[name], msg=name)
    hyps = decode(exp, fsdd_small, tmp_path / "decode")
    texts = transcribe(s2t, fsdd_small, 1)
    assert texts == {uid: hyps[uid] for uid in texts}
