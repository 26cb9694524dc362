"""model_card: the card template filled in from config, data dirs and RESULTS.md; offline push."""

import huggingface_hub.constants
import pytest
import yaml

from espnet_bljust.recipe.model_card import OFFLINE_EXIT, UploadError, main, push_to_hub

CONFIG = {
    "strategy": "bljust", "unsup_loss": "contrastive", "phase_unit": "epoch",
    "exploration_len": 3, "joint_len": -1, "finetune_len": 3, "gamma_init": 0.1,
    "gamma_max": 1.0, "gamma_shape": "linear", "lower_steps_per_upper": 1,
    "encoder": "conformer", "encoder_conf": {"num_blocks": 4, "output_size": 144},
    "model_conf": {"ctc_weight": 1.0}, "frontend": "default", "normalize": "global_mvn",
    "token_type": "bpe", "bpemodel": "data/token_list/bpe_unigram30/bpe.model",
    "token_list": ["<blank>", "<unk>", "A", "<sos/eos>"], "optim": "adam",
    "lower_optim": "adam", "max_epoch": 16, "num_iters_per_epoch": 25, "seed": 0,
}  # fmt: skip
RESULTS = """# demo: bljust results

- model: `exp/asr_bljust/valid.cer_ctc.best.pth`

| decoding | test set | utts | WER (%) | CER (%) |
|---|---|---|---|---|
| decode_ctc_beam | test | 60 | 59.1 | 29.6 |
"""


def _dir(path, utts, seconds):
    path.mkdir(parents=True)
    (path / "wav.scp").write_text("".join(f"u{i} /a/u{i}.wav\n" for i in range(utts)))
    (path / "utt2dur").write_text("".join(f"u{i} {seconds}\n" for i in range(utts)))
    return path


def test_card_has_method_data_results_config_and_licenses(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "RESULTS.md").write_text(RESULTS)
    out = tmp_path / "card" / "README.md"
    main([
        "write", "--out", str(out), "--asr_config", str(tmp_path / "config.yaml"),
        "--results", str(tmp_path / "RESULTS.md"), "--corpus", "fsdd",
        "--data_license", "CC BY-SA 4.0", "--hf_repo", "me/bljust-fsdd",
        "--train_config", "conf/train.yaml", "--command", "./run.sh --stage 1",
        "--labeled", str(_dir(tmp_path / "train_labeled", 10, 360)),
        "--unlabeled", str(_dir(tmp_path / "train_unlabeled", 20, 360)),
        "--valid", str(_dir(tmp_path / "dev", 3, 2)),
        "--test", str(_dir(tmp_path / "test", 4, 2)),
    ])  # fmt: skip
    card = out.read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["license"] == "cc-by-4.0" and front["datasets"] == ["fsdd"]
    assert "espnet" in front["tags"] and front["library_name"] == "espnet"
    for needed in (
        "arXiv:2412.08548", "arXiv:2401.06980", "@article{cui2024bljust",
        "Training strategy: **bljust**", "License of the data: CC BY-SA 4.0",
        "| labeled | train_labeled | 10 | 1.00 h |", "| unlabeled | train_unlabeled | 20 | 2.00 h |",
        "| test | test | 4 | 0.1 min |",
        "| decode_ctc_beam | test | 60 | 59.1 | 29.6 |",
        "| phases: exploration / joint / fine-tune | 3 / -1 / 3 epoch(s) |",
        "| tokens | bpe (bpe.model), 4 tokens |", "| training budget | 16 epochs × 25 steps |",
        'Speech2Text.from_pretrained("me/bljust-fsdd"', "./run.sh --stage 1",
    ):  # fmt: skip
        assert needed in card, needed
    assert "- model:" not in card  # only the table of RESULTS.md is taken
    assert "token LM" not in card  # no --lm_config: no LM note

    main([
        "write", "--out", str(out), "--asr_config", str(tmp_path / "config.yaml"),
        "--corpus", "fsdd", "--data_license", "CC BY-SA 4.0", "--lm_config", "conf/train_lm.yaml",
    ])  # fmt: skip
    assert "token LM trained on the labeled transcripts only (`conf/train_lm.yaml`)" \
        in out.read_text()


def test_push_without_token_or_offline_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UploadError, match="HF_HUB_OFFLINE") as offline:
        push_to_hub(tmp_path, "me/x")
    assert offline.value.offline
    with pytest.raises(SystemExit) as e:  # offline: skipped, its own exit status
        main(["push", "--folder", str(tmp_path), "--hf_repo", "me/x"])
    assert e.value.code == OFFLINE_EXIT == 3
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err
    monkeypatch.delenv("HF_HUB_OFFLINE")
    # no token: none in the environment, an empty Hugging Face home (the token
    # file's path is read from huggingface_hub's constants at each lookup)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    with pytest.raises(SystemExit) as e:
        main(["push", "--folder", str(tmp_path), "--hf_repo", "me/x"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "no Hugging Face token" in err and "Traceback" not in err


def test_card_template_is_package_data_and_names_each_strategy():
    from importlib.resources import files

    from espnet_bljust.bilevel.strategy import STRATEGIES
    from espnet_bljust.recipe.model_card import render_card

    template = files("espnet_bljust.recipe") / "templates" / "model_card.md.j2"
    assert "{{ strategy_summary }}" in template.read_text(encoding="utf-8")
    for name, strategy in STRATEGIES.items():
        card = render_card(dict(CONFIG, strategy=name), "", "demo", "none", [])
        assert f"Training strategy: **{name}** — {strategy.summary}." in card
        assert "(no results)" in card and "Produced by:" not in card
        assert card.endswith("```\n") and "{{" not in card.replace("{{ESPnet}", "")
    card = render_card(dict(CONFIG, strategy="other"), "", "demo", "none", [])
    assert "Training strategy: **other** — see the config." in card
