"""Switchboard + Hub5'00 data prep on a small tree in LDC's layouts.

Conversations are 2-channel 8 kHz mu-law sphere files written by sox (side A on
channel 1, side B on channel 2) from real speech (LibriSpeech samples in
../shared/data; the tests skip where absent); transcripts in the ms98
layout, Hub5'00 references as an stm.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import SHARED_DATA, shared_dataset
from espnet_bljust.corpora import swbd as swbd_prep
from espnet_bljust.data.list_checks import validate_data_dir
from espnet_bljust.corpora.swbd import (
    cap_duplicate_texts,
    map_ms98_word,
    normalize_hub5_ref,
    normalize_ms98,
    segment_command,
    utt_id_swbd,
)
from espnet_bljust.corpora.tedlium import Segment

SAMPLES = SHARED_DATA / "librispeech_samples" / "audio"

# conversation -> (sample of side A, sample of side B); the sphere files.
AUDIO = {
    "swb1_d1/data/sw02001": ("1089-134686-0001", "61-70968-0002"),
    "swb1_d1/data/sw02005": ("61-70968-0001", "1089-134691-0000"),
    "swb1_d2/data/sw03010": ("61-70968-0002", "61-70968-0001"),
    "swb1_d2/data/sw04020": ("1089-134691-0000", "1089-134686-0001"),
}
EVAL_AUDIO = {"en_4156": ("61-70968-0001", "61-70968-0002"),
              "sw_4390": ("1089-134686-0001", "61-70968-0002")}  # fmt: skip
# ms98 transcripts: file -> lines
MS98 = {
    "20/2001/sw2001A-ms98-a-trans.text": [
        "sw2001A-ms98-a-0001 0.000000 0.500000 [silence]",
        "sw2001A-ms98-a-0002 0.500000 2.100000 uh stuff it [laughter-into] you his bel[ly]-",
        "sw2001A-ms98-a-0003 2.100000 3.000000 yeah",
    ],
    "20/2001/sw2001B-ms98-a-trans.text": [
        "sw2001B-ms98-a-0001 0.000000 1.200000 [noise] yeah",
        "sw2001B-ms98-a-0002 1.200000 2.900000 a golden {fortune} and a happy them_1 t._v.",
    ],
    "20/2001/sw2001A-ms98-a-word.text": ["sw2001A-ms98-a-0002 0.50 0.70 uh"],  # not read
    "20/2005/sw2005A-ms98-a-trans.text": [
        "sw2005A-ms98-a-0001 0.000000 1.000000 yeah",
        "sw2005A-ms98-a-0002 1.000000 2.000000 yeah",
    ],
    "20/2005/sw2005B-ms98-a-trans.text": [
        "sw2005B-ms98-a-0001 0.100000 1.900000 [he's/he] -[an]y child [vocalized-noise]",
    ],
    "30/3010/sw3010A-ms98-a-trans.text": ["sw3010A-ms98-a-0001 0.000000 2.500000 a golden life"],
    "30/3010/sw3010B-ms98-a-trans.text": ["sw3010B-ms98-a-0001 0.500000 3.000000 give not so"],
    "40/4020/sw4020A-ms98-a-trans.text": ["sw4020A-ms98-a-0001 0.200000 1.900000 he could wait"],
    "40/4020/sw4020B-ms98-a-trans.text": ["sw4020B-ms98-a-0001 0.000000 2.000000 [noise]"],
    "49/4940/sw4940A-ms98-a-trans.text": ["sw4940A-ms98-a-0001 0.000000 2.000000 no audio"],
}
STM = [
    ";; hub5 2000 english reference (a made-up excerpt)",
    "en_4156 A en_4156_A 0.50 2.00 <O,en,F,en-F>  (%HESITATION) GIVE NOT (SO-) SO EARNEST",
    "en_4156 B en_4156_B 0.20 1.80 <O,en,M,en-M> IGNORE_TIME_SEGMENT_IN_SCORING",
    "en_4156 B en_4156_B 2.00 2.80 <O,en,M,en-M> A <B_ASIDE> LIFE",
    "sw_4390 A sw_4390_A 0.00 1.50 <O,sw,M,sw-M> STUFF IT INTO YOU",
    "sw_4390 B sw_4390_B 0.30 2.60 <O,sw,F,sw-F> A GOLDEN FORTUNE (( UH-HUH )) UM",
]


def side_audio(uid: str) -> np.ndarray:
    """The first 3 s of a real LibriSpeech sample (16 kHz)."""
    return soundfile.read(str(SAMPLES / f"{uid}.flac"), dtype="float64")[0][: 16000 * 3]


def write_conversation(sph: Path, a: str, b: str) -> None:
    """A 2-channel 8 kHz mu-law sphere file (the Switchboard format), A left, B right."""
    sides = [side_audio(a), side_audio(b)]
    n = max(len(s) for s in sides)
    stereo = np.stack([np.pad(s, (0, n - len(s))) for s in sides], axis=1)
    sph.parent.mkdir(parents=True, exist_ok=True)
    wav = sph.with_suffix(".wav")
    soundfile.write(str(wav), stereo, 16000, subtype="PCM_16")
    subprocess.run(["sox", str(wav), "-r", "8000", "-e", "u-law", "-b", "8", str(sph)], check=True)
    wav.unlink()


def build_tree(root: Path) -> Path:
    for rel, (a, b) in AUDIO.items():
        write_conversation(root / "LDC97S62" / f"{rel}.sph", a, b)
    for rel, rows in MS98.items():
        path = root / "swb_ms98_transcriptions" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    for name, (a, b) in EVAL_AUDIO.items():
        write_conversation(root / "LDC2002S09" / "hub5e_00" / "english" / f"{name}.sph", a, b)
    ref = root / "LDC2002T43" / "2000_hub5_eng_eval_tr" / "reference"
    ref.mkdir(parents=True)
    (ref / "hub5e00.english.000405.stm").write_text("\n".join(STM) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ldc(tmp_path_factory) -> Path:
    if shutil.which("sox") is None:
        pytest.skip("sox not installed (make tools): it writes the fixture's sphere files")
    shared_dataset("librispeech_samples")  # skips with the reason where absent
    return build_tree(tmp_path_factory.mktemp("swbd"))


def lines(path: Path) -> list:
    return path.read_text(encoding="utf-8").splitlines()


def test_word_mapping():
    assert map_ms98_word("[silence]") is None and map_ms98_word("[VOCALIZED-NOISE]") is None
    assert map_ms98_word("[laughter-into]") == "into"
    assert map_ms98_word("[laughter-bel[ly]-]") == "bel-"  # laughing through a fragment
    assert map_ms98_word("bel[ly]-") == "bel-" and map_ms98_word("bel[ly]") == "bel-"
    assert map_ms98_word("-[an]y") == "-y" and map_ms98_word("[an]y") == "-y"
    assert map_ms98_word("[it'n/isn't]") == "it'n"
    assert map_ms98_word("{yuppiedom}") == "yuppiedom" and map_ms98_word("them_1") == "them"
    assert map_ms98_word("uh-huh") == "uh-huh"
    words = "[silence] uh stuff [laughter-it] bel[ly]- t._v. i._b._m. um uh-huh".split()
    assert normalize_ms98(words) == "stuff it bel- t v i b m uh-huh"
    assert normalize_ms98(words, "keep", "drop") == "uh stuff it t v i b m um uh-huh"
    assert normalize_ms98(["[noise]", "[laughter]"]) == ""
    assert normalize_hub5_ref("(%HESITATION) HE IS (A-) (( POLICE )) <B_ASIDE> (yeah) UH".split()) \
        == "he is police yeah"
    assert utt_id_swbd("sw02001-A", 0.98, 11.56) == "sw02001-A_000098-001156"
    assert segment_command(Path("/c/sw02001.sph"), 2, 0.5, 2.1, 16000, "sph2pipe") == (
        "sph2pipe -f wav -p -c 2 /c/sw02001.sph | "
        "sox -V1 -R -t wav - -t wav -r 16000 -b 16 -c 1 - trim 0.5 =2.1 |")


def test_duplicate_cap_moves_the_rest():
    utts = [Segment(f"u{i}", "x", t, "s", 1.0) for i, t in enumerate("aabab")]
    kept, moved = cap_duplicate_texts(utts, 1)
    assert [u.uid for u in kept] == ["u0", "u2"] and [u.uid for u in moved] == ["u1", "u3", "u4"]
    assert cap_duplicate_texts(utts, 0) == (utts, [])


def test_dirs_line_by_line(ldc, tmp_path, capsys):
    dirs = swbd_prep.make_swbd_dirs(
        [ldc / "LDC97S62"], ldc / "swb_ms98_transcriptions",
        [ldc / "LDC2002S09", ldc / "LDC2002T43"], tmp_path / "data",
        labeled_hours=0.0005, num_dev_utts=3, max_dup_text=1, seed=0,
    )  # fmt: skip
    assert sorted(dirs) == ["eval2000", "eval2000_ch", "eval2000_sw", "train_dev",
                            "train_labeled", "train_unlabeled"]  # fmt: skip
    sph = {Path(rel).name: (ldc / "LDC97S62" / f"{rel}.sph").resolve() for rel in AUDIO}
    sph.update({n: (ldc / "LDC2002S09/hub5e_00/english" / f"{n}.sph").resolve() for n in EVAL_AUDIO})

    def cut(conv, start, end, channel):
        return (f"sox -V1 -R {sph[conv]} -t wav -r 16000 -b 16 -c 1 - "
                f"trim {start} ={end} remix {channel} |")  # fmt: skip

    # dev: the first conversation (4 utterances >= 3), both sides.
    dev = dirs["train_dev"]
    assert lines(dev / "wav.scp") == [
        "sw02001-A_000050-000210 " + cut("sw02001", 0.5, 2.1, 1),
        "sw02001-A_000210-000300 " + cut("sw02001", 2.1, 3, 1),
        "sw02001-B_000000-000120 " + cut("sw02001", 0, 1.2, 2),
        "sw02001-B_000120-000290 " + cut("sw02001", 1.2, 2.9, 2),
    ]
    assert lines(dev / "text") == [
        "sw02001-A_000050-000210 stuff it into you his bel-",
        "sw02001-A_000210-000300 yeah",
        "sw02001-B_000000-000120 yeah",
        "sw02001-B_000120-000290 a golden fortune and a happy them t v",
    ]
    assert lines(dev / "spk2utt") == [
        "sw02001-A sw02001-A_000050-000210 sw02001-A_000210-000300",
        "sw02001-B sw02001-B_000000-000120 sw02001-B_000120-000290",
    ]
    # Seed 0 labels sw02005 first (3 utterances, 3.8 s > 0.0005 h); its second
    # "yeah" is over max_dup_text=1 and moves to the unlabeled set.
    lab = dirs["train_labeled"]
    assert lines(lab / "text") == [
        "sw02005-A_000000-000100 yeah",
        "sw02005-B_000010-000190 he's -y child",
    ]
    assert lines(lab / "wav.scp")[1] == "sw02005-B_000010-000190 " + cut("sw02005", 0.1, 1.9, 2)
    unl = dirs["train_unlabeled"]
    assert lines(unl / "wav.scp") == [
        "sw02005-A_000100-000200 " + cut("sw02005", 1, 2, 1),
        "sw03010-A_000000-000250 " + cut("sw03010", 0, 2.5, 1),
        "sw03010-B_000050-000300 " + cut("sw03010", 0.5, 3, 2),
        "sw04020-A_000020-000190 " + cut("sw04020", 0.2, 1.9, 1),
    ]
    assert not (unl / "text").exists()
    assert lines(unl / "utt2spk")[-1] == "sw04020-A_000020-000190 sw04020-A"
    # Hub5'00: references normalized, split by the file prefix.
    assert lines(dirs["eval2000"] / "text") == [
        "en_4156-A_000050-000200 give not so earnest",
        "en_4156-B_000200-000280 a life",
        "sw_4390-A_000000-000150 stuff it into you",
        "sw_4390-B_000030-000260 a golden fortune uh-huh",
    ]
    assert lines(dirs["eval2000_ch"] / "wav.scp") == [
        "en_4156-A_000050-000200 " + cut("en_4156", 0.5, 2, 1),
        "en_4156-B_000200-000280 " + cut("en_4156", 2, 2.8, 2),
    ]
    assert [x.split()[0] for x in lines(dirs["eval2000_sw"] / "text")] == [
        "sw_4390-A_000000-000150", "sw_4390-B_000030-000260"]
    captured = capsys.readouterr()
    assert "1 transcribed conversation(s) without audio, left out: sw04940" in captured.err
    # Every pipe decodes: one 16 kHz channel of the segment's length.
    for name, d in dirs.items():
        report = validate_data_dir(d, fs=16000, unlabeled=name == "train_unlabeled")
        assert report.problems == [], [str(p) for p in report.problems]
    assert validate_data_dir(dirs["train_dev"]).seconds == pytest.approx(5.4, abs=0.01)


def test_channels_are_the_two_sides(ldc, tmp_path):
    """remix 1 and remix 2 give the two different sides of one conversation."""
    conv = (ldc / "LDC97S62/swb1_d1/data/sw02001.sph").resolve()
    a, b = (subprocess.run(segment_command(conv, ch, 0, 1, 16000, "sox")[:-1], shell=True,
                           capture_output=True, check=True).stdout for ch in (1, 2))  # fmt: skip
    import io

    wa, ra = soundfile.read(io.BytesIO(a))
    wb, _ = soundfile.read(io.BytesIO(b))
    assert ra == 16000 and wa.ndim == 1 and len(wa) == 16000 == len(wb)
    assert np.abs(wa - wb).mean() > 0.01


def test_missing_ldc_paths_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        swbd_prep.main(["--swbd", str(tmp_path / "nope"), "--ms98", str(tmp_path),
                        "--out", str(tmp_path / "data")])  # fmt: skip
    (tmp_path / "LDC97S62").mkdir()
    with pytest.raises(FileNotFoundError, match="openslr.org/resources/5"):
        swbd_prep.main(["--swbd", str(tmp_path / "LDC97S62"), "--ms98", str(tmp_path),
                        "--out", str(tmp_path / "data")])  # fmt: skip


def test_recipe_data_stage(ldc, tmp_path):
    """run.sh stage 1 with SWBD/SWBD_MS98/EVAL2000 from the environment; without SWBD
    it stops with what to set (LDC corpora are never downloaded)."""
    from test_librispeech import run_recipe

    env = {"SWBD": str(ldc / "LDC97S62"), "SWBD_MS98": str(ldc / "swb_ms98_transcriptions"),
           "EVAL2000": f"{ldc / 'LDC2002S09'} {ldc / 'LDC2002T43'}"}  # fmt: skip
    opts = "--labeled_hours 0.0005 --num_dev_utts 3 --max_dup_text 1 --decoder sox"
    done = run_recipe("swbd", tmp_path, env, "--stop_stage", "1", "--local_data_opts", opts)
    assert done.returncode == 0, done.stdout + done.stderr
    data = tmp_path / "swbd" / "data"
    assert lines(data / "train_labeled" / "text") == [
        "sw02005-A_000000-000100 yeah", "sw02005-B_000010-000190 he's -y child"]
    assert len(lines(data / "eval2000_sw" / "wav.scp")) == 2
    missing = run_recipe("swbd", tmp_path / "x", {"SWBD": "", "EVAL2000": ""}, "--stop_stage", "1")
    assert missing.returncode != 0 and "SWBD is not set" in missing.stderr
    assert "LDC corpora are not downloaded" in missing.stderr
