"""Checkpoints a run decodes, and decoding itself."""

import pytest

from espnet_bljust.experiments.decoding import averaged_checkpoint


def test_averaged_checkpoint_prefers_the_asked_n(tmp_path):
    with pytest.raises(FileNotFoundError, match="--keep_nbest_models 5"):
        averaged_checkpoint(tmp_path, 5)
    for n in (1, 2, 10):
        (tmp_path / f"valid.cer_ctc.ave_{n}best.pth").write_bytes(b"")
    # as espnet2 leaves it: ave.pth links to the largest average it made
    (tmp_path / "valid.cer_ctc.ave.pth").symlink_to("valid.cer_ctc.ave_10best.pth")
    assert averaged_checkpoint(tmp_path, 2).name == "valid.cer_ctc.ave_2best.pth"
    # no ave_5best made: the largest average espnet2 made instead
    assert averaged_checkpoint(tmp_path, 5).name == "valid.cer_ctc.ave_10best.pth"
