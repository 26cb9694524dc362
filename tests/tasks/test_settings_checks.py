"""Bad settings are refused in one line before anything is written."""

import logging
import shutil
import subprocess

import pytest

from conftest import train_args
from espnet_bljust.bin import bljust_train
from espnet_bljust.tasks.bljust import BLJUSTTask, needs_unlabeled_stream
from espnet_bljust.tasks.settings_checks import SettingsError, check_before_training

ERROR = "bljust_train: error: "


def refused(args, capsys):
    with pytest.raises(SystemExit) as exc:
        bljust_train.main(args)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    # espnet2 prints the command line first; then only the one line
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR)]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert lines[-1] == errors[0]
    return errors[0][len(ERROR):]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lower_steps_per_upper", "0"], "--lower_steps_per_upper 0: K must be >= 1"),
        (["--gamma_init", "-0.5"], "--gamma_init -0.5 --gamma_max 1.0: gamma must be >= 0"),
        (["--gamma_init", "0.5", "--gamma_max", "0.2"],
         "--gamma_max 0.2 < --gamma_init 0.5: gamma would fall during the joint phase"),
        (["--gamma_shape", "exponential", "--gamma_init", "0"],
         "--gamma_shape exponential needs --gamma_init > 0, got 0.0"),
        (["--max_epoch", "0"], "--max_epoch 0: must be >= 1 (nothing would be trained or saved)"),
        (["--unlabeled_max_length", "800"], "--unlabeled_max_length 800: shorter than "
         "--min_wav_duration 0.1 s (1600 samples at 16000 Hz)"),
        (["--unlabeled_length_multiple", "-1"], "--unlabeled_length_multiple -1: must be >= 0"),
        (["--encoder_conf", "interctc_layer_idx=[1]", "--encoder_conf",
          "interctc_use_conditioning=true"], "--encoder_conf interctc_use_conditioning=true: "
         "not supported (g's gradient would reach the CTC head through the conditioning)"),
        (["--model_conf", "interctc_weight=0.3", "--upper_unsup_source", "labeled_shared"],
         "--model_conf interctc_weight=0.3 with --upper_unsup_source labeled_shared: f would "
         "read the shared masked pass, which keeps no intermediate CTC outputs"),
        (["--unlabeled_length_multiple", "-1", "--unlabeled_max_length", "800"],
         "--unlabeled_length_multiple -1: must be >= 0; --unlabeled_max_length 800: shorter "
         "than --min_wav_duration 0.1 s (1600 samples at 16000 Hz)"),
    ],
)  # fmt: skip
def test_bad_setting_is_one_line_before_anything_is_written(
    extra, message, fsdd_small, tmp_path, capsys
):
    exp = tmp_path / "exp"
    assert refused(train_args(fsdd_small, exp, *extra), capsys) == message
    assert not exp.exists()


def test_debug_shows_the_traceback_instead(fsdd_small, tmp_path):
    with pytest.raises(SettingsError, match="K must be >= 1"):
        bljust_train.main(train_args(fsdd_small, tmp_path / "exp",
                                     "--lower_steps_per_upper", "0", "--debug"))  # fmt: skip


def test_read_only_output_dir(fsdd_small, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here (needs CAP_LINUX_IMMUTABLE)")
    try:
        line = refused(train_args(fsdd_small, locked / "exp"), capsys)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert line == (
        f"--output_dir {locked / 'exp'}: cannot write in {locked} (Operation not permitted)"
    )


def test_non_utf8_transcript_names_file_line_and_utterance(fsdd_small, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(fsdd_small, data)
    text = data / "train_labeled" / "text"
    lines = text.read_bytes().splitlines(keepends=True)
    uid = lines[2].split()[0].decode()
    lines[2] = uid.encode() + b" NIN\xe9\n"  # Latin-1
    text.write_bytes(b"".join(lines))
    line = refused(train_args(data, tmp_path / "exp"), capsys)
    column = len(uid) + 5
    assert line == f"{text}:3: utterance '{uid}': not UTF-8 text (byte 0xe9 at column {column})"
    assert not (tmp_path / "exp").exists()


def parsed(args):
    return BLJUSTTask.get_parser().parse_args(args)


def test_a_stream_the_strategy_never_reads_is_named(fsdd_small, tmp_path, caplog):
    args = parsed(train_args(fsdd_small, tmp_path / "exp", "--strategy", "supervised"))
    with caplog.at_level(logging.WARNING):
        check_before_training(args, needs_unlabeled_stream(args))
    assert ("--strategy supervised never reads the unlabeled stream given by "
            "--unlabeled_data_path_and_name_and_type: it is ignored") in caplog.text


def test_labeled_and_unlabeled_overlap_is_named(fsdd_small, tmp_path, caplog):
    data = tmp_path / "data"
    shutil.copytree(fsdd_small, data)
    labeled = (data / "train_labeled" / "wav.scp").read_text().splitlines()
    unlabeled = data / "train_unlabeled" / "wav.scp"
    unlabeled.write_text(unlabeled.read_text() + labeled[4].split()[0] + "_again "
                         + labeled[4].split()[1] + "\n")  # the same audio, another id
    args = parsed(train_args(data, tmp_path / "exp"))
    with caplog.at_level(logging.WARNING):
        check_before_training(args, True)
    uid = labeled[4].split()[0]
    assert (f"{data / 'train_labeled' / 'wav.scp'}:5: utterance '{uid}' and 0 more are also "
            f"in the unlabeled list {unlabeled} (labeled and unlabeled sets overlap)"
            ) in caplog.text  # fmt: skip
