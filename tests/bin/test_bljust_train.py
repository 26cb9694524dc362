"""The command line: every asr_train option plus ours, and errors before training."""

import io
import shutil
import sys

import pytest
import yaml

from conftest import train_args
from espnet_bljust.bin import bljust_train
from espnet_bljust.tasks.bljust import BLJUSTTask


def test_print_config_shows_bilevel_defaults(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bljust_train", "--unsup_loss", "best_rq"])
    out = io.StringIO()
    BLJUSTTask.print_config(file=out)
    config = yaml.safe_load(out.getvalue())
    # espnet2 ASR options are all there ...
    for key in ("frontend", "specaug", "normalize", "encoder", "decoder", "ctc_conf",
                "token_list", "batch_type", "resume", "optim", "scheduler"):
        assert key in config, key
    # ... and ours, with their defaults
    assert config["strategy"] == "bljust"
    assert config["unsup_loss"] == "best_rq"
    assert config["unsup_loss_conf"]["codebook_size"] == 256
    assert config["lower_optim"] == "adam" and "lr" in config["lower_optim_conf"]
    for key in ("lower_steps_per_upper", "gamma_init", "gamma_max", "gamma_shape",
                "gamma_ramp_steps", "pbgd_step_scaling", "exploration_len", "joint_len",
                "finetune_len", "phase_unit", "lower_scheduler", "upper_unsup_source",
                "unlabeled_data_path_and_name_and_type", "unlabeled_shape_file"):
        assert key in config, key


@pytest.mark.parametrize(
    "option, value", [("--strategy", "bilevel"), ("--unsup_loss", "wav2vec9")]
)
def test_unknown_names_are_refused(option, value, capsys):
    with pytest.raises(SystemExit) as exc:
        BLJUSTTask.get_parser().parse_args([option, value])
    assert exc.value.code == 2
    assert value in capsys.readouterr().err


@pytest.fixture()
def broken(fsdd_small, tmp_path):
    """A writable copy of the small FSDD split's lists."""
    data = tmp_path / "data"
    shutil.copytree(fsdd_small, data)
    return data


def run_expecting_error(args, capsys):
    with pytest.raises(SystemExit) as exc:
        bljust_train.main(args)
    assert exc.value.code == 1
    return capsys.readouterr().err


def test_labeled_utterance_without_text(broken, tmp_path, capsys):
    text = broken / "train_labeled" / "text"
    lines = text.read_text().splitlines(keepends=True)
    dropped = lines.pop(4).split()[0]
    text.write_text("".join(lines))
    err = run_expecting_error(train_args(broken, tmp_path / "exp"), capsys)
    wav_scp = broken / "train_labeled" / "wav.scp"
    assert f"{wav_scp}:5: utterance '{dropped}': no transcript (not in {text})" in err
    assert not (tmp_path / "exp" / "checkpoint.pth").exists()


def test_empty_transcript(broken, tmp_path, capsys):
    text = broken / "train_labeled" / "text"
    lines = text.read_text().splitlines(keepends=True)
    uid = lines[2].split()[0]
    lines[2] = f"{uid}\n"
    text.write_text("".join(lines))
    err = run_expecting_error(train_args(broken, tmp_path / "exp"), capsys)
    assert f"{text}:3: utterance '{uid}': empty transcript" in err


def test_transcript_outside_the_token_list(broken, tmp_path, capsys):
    """The same message as validate_data; espnet2 would silently read <unk>."""
    text = broken / "train_labeled" / "text"
    lines = text.read_text().splitlines(keepends=True)
    uid = lines[1].split()[0]
    lines[1] = f"{uid} NINÉ\n"
    text.write_text("".join(lines))
    err = run_expecting_error(train_args(broken, tmp_path / "exp"), capsys)
    assert (
        f"{text}:2: utterance '{uid}': characters not in the token list "
        f"{broken / 'tokens.txt'}: 'É'"
    ) in err


def test_missing_unlabeled_stream(broken, tmp_path, capsys):
    args = train_args(broken, tmp_path / "exp")
    cut = args.index("--unlabeled_data_path_and_name_and_type")
    del args[cut: cut + 4]
    err = run_expecting_error(args + ["--strategy", "pt_ft", "--exploration_len", "1"], capsys)
    assert "needed by --strategy pt_ft" in err
    assert "--unlabeled_data_path_and_name_and_type" in err


def test_empty_unlabeled_stream(broken, tmp_path, capsys):
    wav_scp = broken / "train_unlabeled" / "wav.scp"
    wav_scp.write_text("")
    err = run_expecting_error(train_args(broken, tmp_path / "exp"), capsys)
    assert f"{wav_scp}: no utterances (empty set)" in err


@pytest.mark.parametrize("stream", ["train_labeled", "train_unlabeled"])
def test_missing_audio_file(stream, broken, tmp_path, capsys):
    """Refused before training (not a DataLoader traceback in hour 10)."""
    wav_scp = broken / stream / "wav.scp"
    lines = wav_scp.read_text().splitlines(keepends=True)
    uid, audio = lines[3].split()
    lines[3] = f"{uid} {audio}.gone\n"
    wav_scp.write_text("".join(lines))
    err = run_expecting_error(train_args(broken, tmp_path / "exp"), capsys)
    assert f"{wav_scp}:4: utterance '{uid}': audio file not found: {audio}.gone" in err
    assert not (tmp_path / "exp" / "config.yaml").exists()
