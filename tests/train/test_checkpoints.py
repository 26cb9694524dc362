"""Atomic checkpoint writes, checksums, kept history, verified resume fallback."""

import errno
import os

import pytest
import torch

from espnet_bljust.train.checkpoints import (
    AtomicLinkPath,
    CheckpointError,
    _AtomicTorch,
    atomic_save,
    atomic_trainer_saves,
    clean_temporaries,
    history,
    load_first_readable,
    remember,
    restore_missing_checkpoint,
)
from espnet_bljust.train.checksums import verify


def test_failed_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"step": 1}, path)

    def dies_halfway(obj, f):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # e.g. the job is stopped during the write

    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": 2}, path, save=dies_halfway)
    assert torch.load(path) == {"step": 1}
    # no temporary left behind; the checksum still matches the old file
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pth", "checkpoint.pth.sha256"]
    assert verify(path) is None


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
    with pytest.raises(CheckpointError, match="no verified checkpoint to resume from") as e:
        load_first_readable(ckpt, torch.load)
    assert "\n" not in str(e.value)
    assert str(e.value).count("checksum mismatch") == 3


def test_flipped_bytes_that_torch_load_accepts_are_refused(tmp_path, caplog):
    """4 KB flipped inside a tensor: torch.load reads it, the checksum does not."""
    ckpt = tmp_path / "checkpoint.pth"
    for epoch in (1, 2):
        atomic_save({"epoch": epoch, "w": torch.zeros(4096)}, ckpt)
        remember(ckpt, epoch, keep_last=2)
    data = bytearray(ckpt.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 4096] = bytes(b ^ 0xFF for b in data[middle: middle + 4096])
    with open(ckpt, "r+b") as f:  # in place: the hard link of epoch 2 changes too
        f.write(data)
    assert torch.load(ckpt)["epoch"] == 2  # readable, but not what was saved
    loaded = []
    used = load_first_readable(ckpt, lambda p: loaded.append(torch.load(p)))
    assert used.name == "checkpoint.1epoch.pth" and loaded[0]["epoch"] == 1
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) == 1 and f"{ckpt} (checksum mismatch" in warning[0]


def test_a_checkpoint_without_checksum_is_not_trusted(tmp_path):
    ckpt = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 1}, ckpt)
    with pytest.raises(CheckpointError, match=r"checkpoint.pth \(no checksum file"):
        load_first_readable(ckpt, torch.load)


def test_missing_checkpoint_is_taken_from_the_newest_kept_one(tmp_path):
    ckpt = tmp_path / "checkpoint.pth"
    for epoch in (1, 2, 3):
        atomic_save({"epoch": epoch}, ckpt)
        remember(ckpt, epoch, keep_last=2)
    ckpt.unlink()
    assert restore_missing_checkpoint(ckpt).name == "checkpoint.3epoch.pth"
    assert torch.load(ckpt) == {"epoch": 3} and verify(ckpt) is None
    assert [p.name for p in history(tmp_path)] == ["checkpoint.3epoch.pth", "checkpoint.2epoch.pth"]
    assert restore_missing_checkpoint(ckpt) is None  # present: nothing to do


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    stale = [tmp_path / ".checkpoint.pth.tmp.4242", tmp_path / "checkpoints" / ".x.pth.tmp.7"]
    for p in stale:
        p.write_bytes(b"partial")
    (tmp_path / "keep.tmp.1").write_bytes(b"not ours")
    assert sorted(clean_temporaries(tmp_path)) == sorted(stale)
    assert os.listdir(tmp_path / "checkpoints") == [] and (tmp_path / "keep.tmp.1").exists()


def test_latest_link_is_replaced_by_rename(tmp_path):
    for name in ("1epoch.pth", "2epoch.pth"):
        atomic_save({"name": name}, tmp_path / name)
    link = AtomicLinkPath(tmp_path) / "latest.pth"
    for epoch in (1, 2):  # what espnet2's Trainer.run does, through this Path class
        if link.is_symlink() or link.exists():
            link.unlink()
            assert link.is_symlink()  # the old link stays until it is replaced
        link.symlink_to(f"{epoch}epoch.pth")
    assert os.readlink(link) == "2epoch.pth"
    (AtomicLinkPath(tmp_path) / "1epoch.pth").unlink()  # a model file: gone with its checksum
    assert sorted(os.listdir(tmp_path)) == ["2epoch.pth", "2epoch.pth.sha256", "latest.pth"]


def test_disk_full_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pth"
    atomic_save({"step": 1}, path)

    def disk_full(obj, f):
        f.write(b"some bytes")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(CheckpointError, match="No space left on device; the previous "
                       "checkpoint.pth is kept"):  # fmt: skip
        atomic_save({"step": 2}, path, save=disk_full)
    assert torch.load(path) == {"step": 1} and verify(path) is None


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
