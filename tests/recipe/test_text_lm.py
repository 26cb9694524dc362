"""The transcript LM: espnet2's LM task trained on real FSDD labeled text."""

import pytest
import torch

from espnet_bljust.recipe.text_lm import lm_train_argv, train_text_lm, write_text_shape
from tests.conftest import REPO

LM_CONFIG = REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "train_lm.yaml"


def test_text_shape_names_the_utterance_without_words(tmp_path):
    text = tmp_path / "text"
    text.write_text("a ONE\nb TWO THREE\n")
    assert write_text_shape(text, tmp_path / "shape") == 2
    assert (tmp_path / "shape").read_text() == "a 4\nb 10\n"
    text.write_text("a ONE\nb\n")
    with pytest.raises(ValueError, match=r"text:2: utterance 'b' has no transcript"):
        write_text_shape(text, tmp_path / "shape")
    text.write_text("\n")
    with pytest.raises(ValueError, match="no transcripts"):
        write_text_shape(text, tmp_path / "shape")


def test_lm_argv_overrides_come_last(fsdd_small, tmp_path):
    argv = lm_train_argv(fsdd_small / "train_labeled" / "text", fsdd_small / "dev" / "text",
                         fsdd_small / "tokens.txt", tmp_path / "lm", LM_CONFIG,
                         extra=["--max_epoch", "1"])  # fmt: skip
    assert argv[-2:] == ["--max_epoch", "1"]
    assert (tmp_path / "lm" / "shapes" / "train_text_shape").exists()


def test_lm_on_the_labeled_digits_prefers_digit_words(fsdd_small, tmp_path):
    from espnet2.tasks.lm import LMTask

    kwargs = dict(train_text=str(fsdd_small / "train_labeled" / "text"),
                  valid_text=str(fsdd_small / "dev" / "text"),
                  token_list=str(fsdd_small / "tokens.txt"), out_dir=str(tmp_path / "lm"),
                  config=str(LM_CONFIG))  # fmt: skip
    done = train_text_lm(**kwargs)
    model, _ = LMTask.build_model_from_file(done["train_config"], done["model_file"], "cpu")
    model.eval()
    tokens = (fsdd_small / "tokens.txt").read_text().split()

    def nll(word):
        ids = torch.tensor([[tokens.index(c) for c in word]])
        with torch.no_grad():
            return model.nll(ids, torch.tensor([len(word)]))[0].sum().item()

    # the ten digit words of the 60 labeled transcripts against their misspellings
    for word, misspelt in (("TWO", "TW"), ("THREE", "THRE"), ("SEVEN", "SEVN"), ("ONE", "ONO")):
        assert nll(word) + 3.0 < nll(misspelt), (word, nll(word), nll(misspelt))
    # the same options again: reused, not retrained
    stamp = tmp_path / "lm" / "lm_train.json"
    before = stamp.stat().st_mtime_ns
    assert train_text_lm(**kwargs) == done and stamp.stat().st_mtime_ns == before
    # the same paths with other transcripts: trained again, not reused (2 epochs suffice here)
    text = tmp_path / "labeled_text"
    text.write_text((fsdd_small / "train_labeled" / "text").read_text())
    short = {**kwargs, "train_text": str(text), "extra": ["--max_epoch", "2"]}
    first = train_text_lm(**short)
    before = stamp.stat().st_mtime_ns
    text.write_text("".join(line for line in text.read_text().splitlines(keepends=True)
                            if not line.split()[1] == "SEVEN"))  # fmt: skip
    second = train_text_lm(**short)
    assert second["digest"] != first["digest"] and stamp.stat().st_mtime_ns != before
