"""--resume true with changed options is refused with every difference named."""

import argparse

import pytest
import yaml

from espnet_bljust.train.resume_check import (
    ResumeMismatchError,
    check_resume_options,
    differences,
)

SAVED = {
    "strategy": "bljust", "gamma_max": 1.0, "batch_size": 12, "max_epoch": 3, "joint_len": 2,
    "token_list": ["<blank>", "<unk>", "A", "<sos/eos>"], "ngpu": 0,
    "encoder_conf": {"num_blocks": 2}, "resume_allow_changes": [],
}  # fmt: skip


def test_differences_name_changed_options_but_not_allowed_ones(tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n<unk>\nA\n<sos/eos>\n")
    same = dict(SAVED, token_list=str(tokens), max_epoch=10, ngpu=1)
    assert differences(SAVED, same) == []

    changed = dict(same, strategy="just", encoder_conf={"num_blocks": 4}, gamma_max=2.0)
    assert differences(SAVED, changed) == [
        "encoder_conf: {'num_blocks': 2} (saved) -> {'num_blocks': 4} (now)",
        "gamma_max: 1.0 (saved) -> 2.0 (now)",
        "strategy: 'bljust' (saved) -> 'just' (now)",
    ]
    assert differences(SAVED, changed, allowed=["strategy", "encoder_conf", "gamma_max"]) == []

    tokens.write_text("<blank>\n<unk>\nB\n<sos/eos>\n")
    assert differences(SAVED, same) == ["token_list: the tokens differ from the saved run's"]


def test_an_option_the_saved_run_predates_counts_at_its_default():
    defaults = {"unlabeled_max_length": None, "strategy": "bljust"}
    now = dict(SAVED, unlabeled_max_length="auto")
    assert differences(SAVED, now) == []  # without the defaults it cannot be compared
    assert differences(SAVED, now, defaults=defaults) == [
        "unlabeled_max_length: None (saved) -> 'auto' (now)"
    ]
    assert differences(SAVED, dict(SAVED, unlabeled_max_length=None), defaults=defaults) == []


def test_check_resume_options_only_acts_when_resuming_a_saved_run(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(SAVED))
    args = argparse.Namespace(
        **dict(SAVED, strategy="pt_ft", output_dir=str(tmp_path), resume=True)
    )
    check_resume_options(args)  # no checkpoint yet: a fresh start, nothing to compare
    (tmp_path / "checkpoint.pth").write_bytes(b"x")
    with pytest.raises(ResumeMismatchError) as e:
        check_resume_options(args)
    assert "1 option(s) differ" in str(e.value)
    assert "strategy: 'bljust' (saved) -> 'pt_ft' (now)" in str(e.value)
    assert "--resume_allow_changes" in str(e.value)
    args.resume = False
    check_resume_options(args)
    args.resume, args.resume_allow_changes = True, ["strategy"]
    check_resume_options(args)


def test_a_run_saved_with_the_older_phase_unit_name_resumes(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(dict(SAVED, phase_unit="step")))
    (tmp_path / "checkpoint.pth").write_bytes(b"x")
    args = argparse.Namespace(**dict(SAVED, phase_unit="tick", output_dir=str(tmp_path),
                                     resume=True, resume_allow_changes=[]))  # fmt: skip
    check_resume_options(args)
    args.phase_unit = "epoch"
    with pytest.raises(ResumeMismatchError, match="phase_unit: 'tick' \\(saved\\) -> 'epoch'"):
        check_resume_options(args)


def test_max_epoch_may_not_move_the_end_of_a_joint_phase():
    """With joint_len -1 the joint phase (and the γ ramp) ends at max_epoch -
    finetune_len: a longer run would move both under a bljust or just run."""
    saved = dict(SAVED, joint_len=-1)
    longer = dict(saved, max_epoch=10)
    found = differences(saved, longer)
    assert len(found) == 1 and found[0].startswith(
        "max_epoch: 3 (saved) -> 10 (now) with joint_len -1: the joint phase would end elsewhere")
    just = dict(saved, strategy="just")
    assert differences(just, dict(just, max_epoch=10)) == found
    assert differences(saved, longer, allowed=["max_epoch"]) == []
    # no joint phase, or one of a given length: max_epoch only extends the run
    assert differences(dict(saved, strategy="pt_ft"), dict(longer, strategy="pt_ft")) == []
    assert differences(dict(saved, strategy="supervised"),
                       dict(longer, strategy="supervised")) == []  # fmt: skip
    assert differences(SAVED, dict(SAVED, max_epoch=10)) == []
