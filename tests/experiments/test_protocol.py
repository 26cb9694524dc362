"""Reading a protocol: the committed one loads; a bad one is refused with
the file and the key named."""

import pytest
import yaml

from espnet_bljust.experiments.argv import REPO
from espnet_bljust.experiments.protocol import ProtocolError, load_protocol

PROTOCOL = REPO / "egs2" / "fsdd" / "bljust1" / "conf" / "protocol.yaml"


def test_the_committed_protocol():
    protocol = load_protocol(PROTOCOL)
    assert protocol.strategies == ["supervised", "pt_ft", "just", "bljust"]
    assert len(protocol.seeds) >= 5
    assert {len(protocol.trials(s)) for s in protocol.strategies} == {3}
    assert protocol.raw["corpus"]["split"] == "unseen"
    assert protocol.raw["upper_unsup_source"] == "unlabeled"
    assert protocol.max_average() == 5 and len(protocol.sha256) == 64
    assert protocol.repo_path(protocol.raw["config"]).is_file()


def _write(tmp_path, edit):
    raw = yaml.safe_load(PROTOCOL.read_text())
    edit(raw)
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unequal_tuning_budgets_are_refused(tmp_path):
    path = _write(tmp_path, lambda raw: raw["tuning"]["grid"]["bljust"].append({}))
    with pytest.raises(ProtocolError, match=rf"{path}: .*tuning.grid.bljust: 4 trials, "
                       "tuning.trials says 3"):  # fmt: skip
        load_protocol(path)


def test_bad_keys_are_named(tmp_path):
    def edit(raw):
        raw["tuning"]["grid"]["just"][0]["lambda"] = 0.3
        raw["checkpoint"]["rules"] = ["best", "last"]
        del raw["seeds"]

    with pytest.raises(ProtocolError, match="missing key 'seeds'"):
        load_protocol(_write(tmp_path, edit))
    path = _write(tmp_path, lambda raw: edit(raw) or raw.update(seeds=[1]))
    with pytest.raises(ProtocolError) as error:
        load_protocol(path)
    assert "tuning.grid.just[0]: unknown keys ['lambda']" in str(error.value)
    assert "checkpoint.rules" in str(error.value)
