"""The ledger: finished jobs' records kept in a folder git holds, restored
into a fresh checkout's output folder with its own paths."""

import json
from pathlib import Path

from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.ledger import Ledger


def test_records_travel_to_another_output_folder(tmp_path):
    first, second, root = tmp_path / "a" / "out", tmp_path / "b" / "out", tmp_path / "ledger"
    record = first / "tune" / "bljust_t0.train.json"
    record.parent.mkdir(parents=True)
    value = dict(key=["--config", str(REPO / "conf" / "x.yaml"), "--output_dir",
                      str(first / "tune" / "bljust_t0")], ok=True)  # fmt: skip
    record.write_text(json.dumps(value))
    Ledger(root, first).keep(record)
    kept = (root / "tune" / "bljust_t0.train.json").read_text()
    assert str(first) not in kept and str(REPO) not in kept  # placeholders only

    ledger = Ledger(root, second)
    assert ledger.restore() == 1
    restored = json.loads((second / "tune" / "bljust_t0.train.json").read_text())
    assert restored["key"] == ["--config", str(REPO / "conf" / "x.yaml"), "--output_dir",
                               str(second.resolve() / "tune" / "bljust_t0")]  # fmt: skip
    # a record the output folder has already is left as it is
    (second / "tune" / "bljust_t0.train.json").write_text("{}")
    assert ledger.restore() == 0
    assert (second / "tune" / "bljust_t0.train.json").read_text() == "{}"


def test_an_empty_or_missing_ledger_restores_nothing(tmp_path):
    assert Ledger(tmp_path / "none", tmp_path / "out").restore() == 0


def test_only_whole_paths_become_placeholders(tmp_path, monkeypatch):
    """A short relative out_dir ("out") that is part of words in hypothesis
    texts ("about", "output") or of a longer path leaves those as they are."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "ledger"
    record = tmp_path / "out" / "final" / "bljust_seed1.test.json"
    record.parent.mkdir(parents=True)
    value = dict(hyp="out/final/bljust_seed1/text", other="outside/out/x", ok=True,
                 hyp_texts={"u1": "about the output", "u2": "out"})  # fmt: skip
    record.write_text(json.dumps(value))
    Ledger(root, Path("out")).keep(record)

    Ledger(root, Path("exp") / "run2").restore()
    restored = json.loads((tmp_path / "exp" / "run2" / "final" / "bljust_seed1.test.json").read_text())
    assert restored == dict(value, hyp="exp/run2/final/bljust_seed1/text")
