"""Atomic checkpoint writes, kept history, resume fallback."""

import os

import pytest
import torch

from espnet_bljust.train.checkpoints import (
    _AtomicTorch,
    atomic_save,
    atomic_trainer_saves,
    history,
    load_first_readable,
    remember,
)


def test_failed_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"step": 1}, path)

    def dies_halfway(obj, f):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # e.g. the job is stopped during the write

    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": 2}, path, save=dies_halfway)
    assert torch.load(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["checkpoint.pth"]  # no temporary left behind


def test_remember_keeps_the_last_n_as_hard_links(tmp_path):
    ckpt = tmp_path / "checkpoint.pth"
    for epoch in range(1, 5):
        atomic_save({"epoch": epoch}, ckpt)
        remember(ckpt, epoch, keep_last=2)
    kept = history(tmp_path)
    assert [p.name for p in kept] == ["checkpoint.4epoch.pth", "checkpoint.3epoch.pth"]
    assert os.path.samefile(kept[0], ckpt)
    assert torch.load(kept[1]) == {"epoch": 3}


def test_resume_falls_back_to_the_newest_readable_checkpoint(tmp_path):
    ckpt = tmp_path / "checkpoint.pth"
    for epoch in (1, 2):
        atomic_save({"epoch": epoch}, ckpt)
        remember(ckpt, epoch, keep_last=2)
    # a checkpoint truncated by something outside our control (disk full, copy)
    data = ckpt.read_bytes()
    ckpt.unlink()  # break the hard link, then write half of it
    ckpt.write_bytes(data[: len(data) // 2])
    (tmp_path / "checkpoints" / "checkpoint.2epoch.pth").write_bytes(data[:10])
    loaded = []
    used = load_first_readable(ckpt, lambda p: loaded.append(torch.load(p)))
    assert used.name == "checkpoint.1epoch.pth" and loaded == [{"epoch": 1}]

    (tmp_path / "checkpoints" / "checkpoint.1epoch.pth").write_bytes(b"")
    with pytest.raises(RuntimeError, match="no readable checkpoint to resume from"):
        load_first_readable(ckpt, torch.load)


def test_trainer_module_saves_through_the_atomic_proxy(tmp_path):
    import espnet2.train.trainer as trainer_module

    with atomic_trainer_saves(keep_last=1):
        assert isinstance(trainer_module.torch, _AtomicTorch)
        assert trainer_module.torch.Tensor is torch.Tensor  # everything else is torch
        state = {"model": {}, "reporter": {"epoch": 3, "stats": {}}}
        trainer_module.torch.save(state, tmp_path / "checkpoint.pth")
    assert trainer_module.torch is torch
    assert [p.name for p in history(tmp_path)] == ["checkpoint.3epoch.pth"]


def test_nbest_averaging_writes_through_the_atomic_proxy(tmp_path):
    """espnet2's own average_nbest_models, run inside the context, writes the
    true average of the two best epochs, through the atomic proxy."""
    import espnet2.main_funcs.average_nbest_models as averaging_module
    from espnet2.train.reporter import Reporter

    reporter = Reporter()
    for epoch, acc in ((1, 0.2), (2, 0.9), (3, 0.7)):
        reporter.set_epoch(epoch)
        with reporter.observe("valid") as sub:
            sub.register({"acc": acc})
        torch.save({"w": torch.full((2,), float(epoch))}, tmp_path / f"{epoch}epoch.pth")
    with atomic_trainer_saves(keep_last=1):
        assert isinstance(averaging_module.torch, _AtomicTorch)
        averaging_module.average_nbest_models(
            output_dir=tmp_path, reporter=reporter,
            best_model_criterion=[("valid", "acc", "max")], nbest=[2],
        )
    assert averaging_module.torch is torch
    averaged = torch.load(tmp_path / "valid.acc.ave_2best.pth")
    assert torch.allclose(averaged["w"], torch.full((2,), 2.5))
    assert not list(tmp_path.glob(".*.tmp.*"))
