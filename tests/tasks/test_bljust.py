"""BLJUSTTask option checks: unsup_loss_conf must fit the chosen unsup_loss."""

import pytest
import yaml

from conftest import REPO, train_args
from espnet_bljust.bin import bljust_train
from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.tasks.unsup_loss_build import UnsupLossConfError, check_unsup_loss_conf
from espnet_bljust.unsup import unsup_loss_choices

FSDD_CONF = REPO / "egs2" / "fsdd" / "bljust1" / "conf"
FSDD_TRAIN_CONFIGS = [FSDD_CONF / "train.yaml", *sorted((FSDD_CONF / "tuning").glob("*.yaml"))]
TOKENS = ["<blank>", "<unk>", "<space>", "E", "I", "N", "O", "R", "T", "W", "Z", "<sos/eos>"]


def parse(tmp_path, *cmd):
    token_list = tmp_path / "tokens.txt"
    token_list.write_text("".join(t + "\n" for t in TOKENS))
    return BLJUSTTask.get_parser().parse_args(
        ["--token_list", str(token_list), "--token_type", "char", *cmd]
    )


@pytest.mark.parametrize("config", FSDD_TRAIN_CONFIGS, ids=lambda p: p.name)
def test_fsdd_configs_build_their_unsup_loss(config, tmp_path):
    """The recipe config and its loss-family ablations build as written."""
    args = parse(tmp_path, "--config", str(config))
    check_unsup_loss_conf(args)
    model = BLJUSTTask.build_model(args)
    assert isinstance(model.unsup_loss, unsup_loss_choices.get_class(args.unsup_loss))


def test_the_tuning_configs_cover_every_other_loss_family(tmp_path):
    families = {parse(tmp_path, "--config", str(c)).unsup_loss for c in FSDD_TRAIN_CONFIGS}
    assert families == set(unsup_loss_choices.classes)


def test_a_stale_key_of_another_loss_is_named(tmp_path):
    """The FSDD config's contrastive options do not silently reach k-means."""
    args = parse(tmp_path, "--config", str(FSDD_CONF / "train.yaml"), "--unsup_loss", "kmeans")
    with pytest.raises(ValueError) as err:
        check_unsup_loss_conf(args)
    message = str(err.value)
    assert "['negatives_from']" in message and "MaskedKMeansLoss" in message
    assert str(FSDD_CONF / "train.yaml") in message and "num_clusters" in message
    with pytest.raises(ValueError, match="negatives_from"):
        BLJUSTTask.build_model(args)


def test_derived_arguments_cannot_be_set(tmp_path):
    args = parse(tmp_path, "--unsup_loss_conf", "stride=4")
    with pytest.raises(ValueError, match=r"sets \['stride'\]"):
        check_unsup_loss_conf(args)


def test_training_refuses_it_before_writing_anything(fsdd_small, tmp_path, capsys):
    out = tmp_path / "exp"
    cmd = train_args(fsdd_small, out, "--unsup_loss", "best_rq")
    cmd += ["--unsup_loss_conf", "negatives_from=batch"]
    with pytest.raises(SystemExit) as exc:
        bljust_train.main(cmd)
    assert exc.value.code == 1
    assert "['negatives_from']" in capsys.readouterr().err
    assert not (out / "config.yaml").exists()


def test_a_loss_that_takes_any_option_judges_them_itself(tmp_path, monkeypatch):
    """A user-registered loss with ``**kwargs`` is not second-guessed."""

    class AnyOptionLoss(unsup_loss_choices.get_class("contrastive")):
        def __init__(self, encoder_output_size, feature_size, stride, **options):
            super().__init__(encoder_output_size, feature_size, stride)

    monkeypatch.setitem(unsup_loss_choices.classes, "any_option", AnyOptionLoss)
    args = parse(tmp_path, "--unsup_loss", "contrastive", "--unsup_loss_conf", "whatever=1")
    with pytest.raises(UnsupLossConfError, match="whatever"):
        check_unsup_loss_conf(args)
    args.unsup_loss = "any_option"
    check_unsup_loss_conf(args)  # no error: the option is the loss's business


FSDD_LOSS_FAMILY_CONFIGS = [FSDD_CONF / "tuning" / n for n in ("train_kmeans.yaml",
                                                                   "train_best_rq.yaml")]


def recipe_and_tuning(config):
    """(train.yaml, the tuning config, the top-level keys where they differ)."""
    recipe = yaml.safe_load((FSDD_CONF / "train.yaml").read_text())
    tuning = yaml.safe_load(config.read_text())
    changed = {k for k in recipe.keys() | tuning.keys() if recipe.get(k) != tuning.get(k)}
    return recipe, tuning, changed


def test_every_tuning_config_is_checked_below():
    checked = {p.name for p in FSDD_LOSS_FAMILY_CONFIGS} | {"train_mel40.yaml", "train_hop20.yaml"}
    assert {p.name for p in FSDD_TRAIN_CONFIGS[1:]} == checked


@pytest.mark.parametrize("config", FSDD_LOSS_FAMILY_CONFIGS, ids=lambda p: p.name)
def test_tuning_configs_change_only_the_loss_family(config):
    """Their header says "everything else as train.yaml": hold them to it."""
    recipe, ablation, changed = recipe_and_tuning(config)
    assert changed == {"unsup_loss", "unsup_loss_conf"}
    masking = {k: recipe["unsup_loss_conf"][k] for k in ("mask_prob", "mask_length")}
    assert ablation["unsup_loss_conf"] == masking


def test_mel40_config_changes_only_the_mel_bins_and_their_masks():
    recipe, cheap, changed = recipe_and_tuning(FSDD_CONF / "tuning" / "train_mel40.yaml")
    assert changed == {"frontend_conf", "specaug_conf"}
    assert cheap["frontend_conf"] == {**recipe["frontend_conf"], "n_mels": 40}
    assert cheap["specaug_conf"] == {**recipe["specaug_conf"], "freq_mask_width_range": [0, 8]}


def test_hop20_config_keeps_the_encoder_frame_rate_with_a_linear_input_layer(tmp_path):
    """20 ms frontend frames into a linear layer: the conformer and the contrastive
    loss see one frame per 320 samples, as with train.yaml's 10 ms frames and conv2d2."""
    recipe, cheap, changed = recipe_and_tuning(FSDD_CONF / "tuning" / "train_hop20.yaml")
    assert changed == {"frontend_conf", "encoder_conf"}
    assert cheap["frontend_conf"] == {**recipe["frontend_conf"], "hop_length": 320}
    assert cheap["encoder_conf"] == {**recipe["encoder_conf"], "input_layer": "linear"}
    samples_per_frame = {}
    for name in ("train.yaml", "tuning/train_hop20.yaml"):
        args = parse(tmp_path, "--config", str(FSDD_CONF / name))
        model = BLJUSTTask.build_model(args)
        samples_per_frame[name] = model.unsup_loss.stride * args.frontend_conf["hop_length"]
    assert samples_per_frame == {"train.yaml": 320, "tuning/train_hop20.yaml": 320}
