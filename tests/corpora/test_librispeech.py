"""LibriSpeech data prep on a small tree in the corpus's own layout.

The tree holds the real LibriSpeech flac and trans.txt files of
../shared/data/librispeech_samples (the tests skip where that folder is absent)
and, for the parts the samples lack, made-up utterances with synthesized audio.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import REPO, SHARED_DATA, shared_dataset
from espnet_bljust.corpora import librispeech as librispeech_prep
from espnet_bljust.data.list_checks import validate_data_dir
from espnet_bljust.corpora.librispeech import (
    find_part,
    make_librispeech_dirs,
    parse_trans_line,
    read_part,
    set_name,
    speaker_of,
)

SAMPLES = SHARED_DATA / "librispeech_samples"
# part -> {utt id: transcript}; the real samples' own ids and transcripts, plus
# made-up utterances (synthesized audio) for the parts the samples lack.
TREE = {
    "train-clean-100": {
        "1089-134686-0000": "HE HOPED THERE WOULD BE STEW FOR DINNER TURNIPS AND CARROTS AND "
        "BRUISED POTATOES AND FAT MUTTON PIECES TO BE LADLED OUT IN THICK PEPPERED FLOUR "
        "FATTENED SAUCE",
        "1089-134686-0001": "STUFF IT INTO YOU HIS BELLY COUNSELLED HIM",
        "103-1240-0000": "CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED",
    },
    "train-clean-360": {
        "1089-134691-0000": "HE COULD WAIT NO LONGER",
        "1089-134691-0001": "FOR A FULL HOUR HE HAD PACED UP AND DOWN WAITING BUT HE COULD "
        "WAIT NO LONGER",
    },
    "train-other-500": {
        "61-70968-0000": "HE BEGAN A CONFUSED COMPLAINT AGAINST THE WIZARD WHO HAD VANISHED "
        "BEHIND THE CURTAIN ON THE LEFT",
        "61-70968-0001": "GIVE NOT SO EARNEST A MIND TO THESE MUMMERIES CHILD",
        "61-70968-0002": "A GOLDEN FORTUNE AND A HAPPY LIFE",
    },
    "dev-clean": {
        "2412-153948-0000": "IF THE READER WILL EXCUSE ME I WILL SAY NOTHING OF MY ANTECEDENTS "
        "NOR OF THE CIRCUMSTANCES WHICH LED ME TO LEAVE MY NATIVE COUNTRY THE NARRATIVE WOULD "
        "BE TEDIOUS TO HIM AND PAINFUL TO MYSELF",
    },
    "dev-other": {"116-288045-0000": "AS I APPROACHED THE CITY I HEARD BELLS RINGING"},
    "test-clean": {"908-157963-0000": "TO FADE AWAY LIKE MORNING BEAUTY FROM HER MORTAL DAY"},
    "test-other": {"367-130732-0000": "LOBSTERS AND LOBSTERS"},
}


def synth_flac(path: Path, seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * (150 + 50 * seed) * t) + 0.01 * rng.standard_normal(len(t))
    soundfile.write(str(path), wave, 16000, format="FLAC", subtype="PCM_16")


def build_tree(root: Path) -> Path:
    """``root/LibriSpeech/<part>/<spk>/<chapter>/`` with trans.txt and flac files."""
    for i, (part, utts) in enumerate(sorted(TREE.items())):
        chapters = {}
        for uid, text in utts.items():
            spk, chapter, _ = uid.split("-")
            d = root / "LibriSpeech" / part / spk / chapter
            d.mkdir(parents=True, exist_ok=True)
            chapters.setdefault(d, []).append(f"{uid} {text}")
            real = SAMPLES / "audio" / f"{uid}.flac"
            if real.is_file():
                shutil.copy(real, d / f"{uid}.flac")
            else:  # a made-up utterance
                synth_flac(d / f"{uid}.flac", 1.0 + 0.25 * i, seed=i)
        for d, rows in chapters.items():
            spk, chapter = d.parent.name, d.name
            real = SAMPLES / "audio" / f"{spk}-{chapter}.trans.txt"
            trans = d / f"{spk}-{chapter}.trans.txt"
            if real.is_file():  # the corpus's own file (no newline at its end)
                shutil.copy(real, trans)
            else:
                trans.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    shared_dataset("librispeech_samples")  # skips with the reason where absent
    return build_tree(tmp_path_factory.mktemp("librispeech") / "downloads")


def lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def test_parse_and_names():
    assert parse_trans_line("61-70968-0002 A GOLDEN  FORTUNE\n") == (
        "61-70968-0002", "A GOLDEN FORTUNE")
    assert parse_trans_line("   \n") is None
    with pytest.raises(ValueError, match="not a LibriSpeech"):
        parse_trans_line("hello WORLD")
    with pytest.raises(ValueError, match="empty transcript"):
        parse_trans_line("61-70968-0002")
    assert speaker_of("61-70968-0002") == "61-70968"
    assert speaker_of("61-70968-0002", "reader") == "61"
    assert set_name("train-other-500") == "train_other_500"


def test_dirs_line_by_line(corpus, tmp_path):
    dirs = make_librispeech_dirs(corpus, tmp_path / "data")
    assert sorted(dirs) == ["dev", "dev_clean", "dev_other", "test_clean", "test_other",
                            "train_860", "train_clean_100"]  # fmt: skip
    part = {name: corpus.resolve() / "LibriSpeech" / name.replace("_", "-")
            for name in ("train_clean_100", "dev_clean", "dev_other")}  # fmt: skip
    tc = part["train_clean_100"]
    d = dirs["train_clean_100"]
    # C-locale order: "103-..." < "1089-..." (byte '3' < '8').
    assert lines(d / "wav.scp") == [
        f"103-1240-0000 {tc}/103/1240/103-1240-0000.flac",
        f"1089-134686-0000 {tc}/1089/134686/1089-134686-0000.flac",
        f"1089-134686-0001 {tc}/1089/134686/1089-134686-0001.flac",
    ]
    assert lines(d / "text") == [
        "103-1240-0000 CHAPTER ONE MISSUS RACHEL LYNDE IS SURPRISED",
        f"1089-134686-0000 {TREE['train-clean-100']['1089-134686-0000']}",
        "1089-134686-0001 STUFF IT INTO YOU HIS BELLY COUNSELLED HIM",
    ]
    assert lines(d / "utt2spk") == [
        "103-1240-0000 103-1240",
        "1089-134686-0000 1089-134686",
        "1089-134686-0001 1089-134686",
    ]
    assert lines(d / "spk2utt") == [
        "103-1240 103-1240-0000",
        "1089-134686 1089-134686-0000 1089-134686-0001",
    ]
    # Unlabeled: both 860 h parts, no text.
    u = dirs["train_860"]
    root = corpus.resolve() / "LibriSpeech"
    assert lines(u / "wav.scp") == [
        f"1089-134691-0000 {root}/train-clean-360/1089/134691/1089-134691-0000.flac",
        f"1089-134691-0001 {root}/train-clean-360/1089/134691/1089-134691-0001.flac",
        f"61-70968-0000 {root}/train-other-500/61/70968/61-70968-0000.flac",
        f"61-70968-0001 {root}/train-other-500/61/70968/61-70968-0001.flac",
        f"61-70968-0002 {root}/train-other-500/61/70968/61-70968-0002.flac",
    ]
    assert not (u / "text").exists()
    assert lines(u / "spk2utt") == [
        "1089-134691 1089-134691-0000 1089-134691-0001",
        "61-70968 61-70968-0000 61-70968-0001 61-70968-0002",
    ]
    # Valid = dev-clean + dev-other; each also on its own.
    assert lines(dirs["dev"] / "text") == [
        "116-288045-0000 AS I APPROACHED THE CITY I HEARD BELLS RINGING",
        f"2412-153948-0000 {TREE['dev-clean']['2412-153948-0000']}",
    ]
    assert lines(dirs["dev"] / "wav.scp") == [
        f"116-288045-0000 {part['dev_other']}/116/288045/116-288045-0000.flac",
        f"2412-153948-0000 {part['dev_clean']}/2412/153948/2412-153948-0000.flac",
    ]
    assert lines(dirs["dev_clean"] / "utt2spk") == ["2412-153948-0000 2412-153948"]
    assert lines(dirs["test_other"] / "text") == ["367-130732-0000 LOBSTERS AND LOBSTERS"]
    # Every audio entry decodes at 16 kHz; the labeled lists pass validation.
    for name in ("train_clean_100", "train_860", "dev"):
        report = validate_data_dir(dirs[name], fs=16000, unlabeled=name == "train_860",
                                   overlap_with=[dirs["train_860"]] if name != "train_860" else [])
        assert report.problems == [], [str(p) for p in report.problems]


def test_real_samples_keep_their_durations(corpus, tmp_path):
    samples = shared_dataset("librispeech_samples")
    durations = dict(line.split() for line in lines(samples / "utt2dur"))
    dirs = make_librispeech_dirs(corpus, tmp_path / "data", speaker="reader")
    for uid, path in (line.split() for line in lines(dirs["train_860"] / "wav.scp")):
        assert soundfile.info(path).duration == pytest.approx(float(durations[uid]), abs=1e-3)
    assert lines(dirs["train_860"] / "utt2spk")[0] == "1089-134691-0000 1089"


def test_corpus_problems_are_named(corpus, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(corpus / "LibriSpeech" / "train-other-500", broken / "train-other-500")
    chapter = broken / "train-other-500" / "61" / "70968"
    (chapter / "61-70968-0001.flac").unlink()
    synth_flac(chapter / "61-70968-0099.flac", 0.5, seed=1)
    with pytest.raises(ValueError) as err:
        read_part(find_part(broken, "train-other-500"))
    text = str(err.value)
    assert "2 problem(s)" in text
    assert "61-70968-0001: audio missing" in text
    assert "61-70968-0099.flac: no transcript line" in text
    with pytest.raises(FileNotFoundError, match="openslr.org/resources/12/dev-clean.tar.gz"):
        find_part(broken, "dev-clean")
    with pytest.raises(ValueError, match="another role"):
        make_librispeech_dirs(corpus, tmp_path / "x", labeled=["dev-clean"])


def test_cli(corpus, tmp_path, capsys):
    librispeech_prep.main([
        "--librispeech", str(corpus), "--out", str(tmp_path / "data"),
        "--unlabeled", "train-other-500", "--unlabeled_name", "train_500",
        "--dev", "dev-clean", "--valid_name", "dev_clean", "--test", "test-other",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert "train_clean_100: 3 utterances" in out and "train_500: 3 utterances" in out
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "dev_clean", "test_other", "train_500", "train_clean_100"]


def run_recipe(name: str, work: Path, env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    """egs2/<name>/bljust1/run.sh in a copy of the recipe (links resolved) under ``work``."""
    recipe = work / name
    if not recipe.exists():
        shutil.copytree(REPO / "egs2" / name / "bljust1", recipe, symlinks=False,
                        ignore=shutil.ignore_patterns("data", "exp", "dump", "downloads"))  # fmt: skip
    env = dict(os.environ, BLJUST_ROOT=str(REPO), cmd_backend="local", **env_extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run([str(recipe / "run.sh"), *args], cwd=recipe, env=env,
                          capture_output=True, text=True)  # fmt: skip


def test_recipe_data_stage(corpus, tmp_path):
    """run.sh stage 1 with LIBRISPEECH from the environment; a rerun keeps the data."""
    done = run_recipe("librispeech_100", tmp_path, {"LIBRISPEECH": str(corpus)},
                      "--stop_stage", "1", "--local_data_opts", "--download false")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = tmp_path / "librispeech_100" / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == [
        "dev", "dev_clean", "dev_other", "test_clean", "test_other", "train_860", "train_clean_100"]
    assert len(lines(data / "train_860" / "wav.scp")) == 5
    again = run_recipe("librispeech_100", tmp_path, {"LIBRISPEECH": str(corpus)},
                       "--stop_stage", "1", "--local_data_opts", "--download false")  # fmt: skip
    assert again.returncode == 0 and "already prepared" in again.stdout
    # No corpus and no download: one clear line, through bljust.sh's log tail.
    (data / ".librispeech_done").unlink()
    missing = run_recipe("librispeech_100", tmp_path, {"LIBRISPEECH": str(tmp_path / "none")},
                         "--stop_stage", "1", "--local_data_opts", "--download false")  # fmt: skip
    assert missing.returncode != 0
    assert "LibriSpeech train-clean-100 not found under" in missing.stderr
