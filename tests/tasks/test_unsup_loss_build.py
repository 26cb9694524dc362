"""unsup_loss_build: the unsupervised loss gets its sizes from the espnet2 model."""

import pytest
import torch
from espnet2.tasks.asr import ASRTask

from conftest import TINY_CONFIG
from espnet_bljust.tasks.bljust import BLJUSTTask
from espnet_bljust.tasks.unsup_loss_build import build_unsup_loss, infer_encoder_stride

TOKENS = ["<blank>", "<unk>", "<space>", "E", "N", "O", "<sos/eos>"]


@pytest.mark.parametrize("input_layer, stride", [("conv2d6", 6), ("linear", 1)])
def test_sizes_and_stride_come_from_the_built_model(tmp_path, input_layer, stride):
    token_list = tmp_path / "tokens.txt"
    token_list.write_text("".join(t + "\n" for t in TOKENS))
    args = BLJUSTTask.get_parser().parse_args([
        "--config", str(TINY_CONFIG), "--token_list", str(token_list), "--token_type", "char",
        "--encoder_conf", "num_blocks=1", "--encoder_conf", "output_size=64",
        "--encoder_conf", f"input_layer={input_layer}", "--unsup_loss", "best_rq",
    ])  # fmt: skip
    base = ASRTask.build_model(args)  # the plain espnet2 model the task extends
    state = torch.get_rng_state()
    assert infer_encoder_stride(base, 80) == stride
    assert torch.equal(torch.get_rng_state(), state)  # the probe pass leaves the RNG alone
    loss = build_unsup_loss(args, base)
    assert (loss.stride, loss.feature_size, loss.encoder_output_size) == (stride, 80, 64)
    assert type(loss).__name__ == "BestRQLoss"
