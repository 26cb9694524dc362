"""espnet_bljust.corpora.cli: the corpus modules' parser and size report, on data dirs the
real kaldi_lists writer makes."""

import argparse
import inspect

from espnet_bljust.corpora import an4, cli, librispeech, swbd, tedlium
from espnet_bljust.data.kaldi_lists import write_data_dir


def test_corpus_parser_takes_the_docstring_first_line():
    parser = cli.corpus_parser("Short line.\n\nLonger text\n  kept as written.")
    assert parser.description == "Short line."
    assert parser.formatter_class is argparse.RawDescriptionHelpFormatter


def test_print_sizes_counts_wav_scp_lines(tmp_path, capsys):
    rows = [(f"spk1-utt{i}", str(tmp_path / f"{i}.wav"), f"WORD {i}", "spk1") for i in range(3)]
    dirs = {"dev": write_data_dir(tmp_path / "dev", rows),
            "test": write_data_dir(tmp_path / "test", rows[:1])}  # fmt: skip
    cli.print_sizes(dirs)
    assert capsys.readouterr().out.splitlines() == [
        f"dev: 3 utterances in {tmp_path / 'dev'}",
        f"test: 1 utterances in {tmp_path / 'test'}",
    ]


def test_every_option_is_a_parameter_of_the_module_function():
    """main() passes the parsed options as keywords: each parser's destinations are the
    names of the function it calls."""
    for module, make in ((an4, an4.make_an4_split),
                         (librispeech, librispeech.make_librispeech_dirs),
                         (swbd, swbd.make_swbd_dirs), (tedlium, tedlium.make_tedlium_dirs)):  # fmt: skip
        dests = {a.dest for a in module.get_parser()._actions if a.dest != "help"}
        assert dests == set(inspect.signature(make).parameters), module.__name__
