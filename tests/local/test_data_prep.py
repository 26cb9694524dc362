"""local/data_prep.sh, what the recipes' local/data.sh share: --help lists --python and
every default above the source line, in order; an unknown option or a leftover argument
stops the script with one line. Run on the real data.sh of each recipe that sources it."""

import re
import subprocess

import pytest

from conftest import REPO

RECIPES = sorted(p.parents[2].name for p in (REPO / "egs2").glob("*/bljust1/local/data.sh")
                 if ". utils/data_prep.sh" in p.read_text())  # fmt: skip


def run(corpus, *args):
    return subprocess.run(["local/data.sh", *args], cwd=REPO / "egs2" / corpus / "bljust1",
                          capture_output=True, text=True)  # fmt: skip


def test_every_recipe_but_the_demo_uses_it():
    assert RECIPES == ["an4", "fsdd", "librispeech_100", "swbd", "tedlium2"]


@pytest.mark.parametrize("corpus", RECIPES)
def test_help_lists_the_defaults_and_bad_arguments_stop(corpus):
    text = (REPO / "egs2" / corpus / "bljust1" / "local" / "data.sh").read_text()
    above = text.split(". utils/data_prep.sh")[0]
    names = ["python"] + re.findall(r"^([a-z_][a-z0-9_]*)=", above, flags=re.M)
    shown = run(corpus, "--help")
    assert shown.returncode == 0
    assert (shown.stdout + shown.stderr).strip() == (
        "Usage: local/data.sh " + " ".join(f"[--{n} <{n}>]" for n in names)
        + " (defaults above, in local/data.sh)"
    )
    assert len(names) > 3

    bad = run(corpus, "--no_such_option", "1")
    assert bad.returncode == 1 and bad.stderr.strip() == "local/data.sh: invalid option --no_such_option"
    extra = run(corpus, "extra")
    assert extra.returncode == 1 and extra.stderr.strip() == "local/data.sh: unexpected argument extra"
