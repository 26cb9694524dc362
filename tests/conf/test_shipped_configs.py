"""espnet_bljust.conf: the configs the package ships, found without the checkout."""

import pytest
import yaml

from espnet_bljust.conf import DECODE_CONFIGS, TINY_CONFIG, config_path, shipped_configs


def test_shipped_configs_are_found_and_load():
    assert shipped_configs() == sorted([TINY_CONFIG, *DECODE_CONFIGS])
    tiny = yaml.safe_load(config_path(TINY_CONFIG).read_text())
    assert tiny["strategy"] == "bljust" and tiny["encoder"] == "conformer"
    for name in DECODE_CONFIGS:
        decode = yaml.safe_load(config_path(name).read_text())
        assert decode["ctc_weight"] == 1.0 and decode["lm_weight"] == 0.0


def test_an_unknown_config_is_named_with_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match=r"train_big.yaml: .*decode_ctc_beam.yaml"):
        config_path("train_big.yaml")
