"""The AN4 recipe's data stages on a real AN4 archive (the shared mini_an4 tarball).

``AN4=<archive>`` is unpacked by stage 1 as a downloaded ``an4_sphere.tar.gz``
would be and validated, formatted from the .sph files (3), filtered by duration
(4) and given a char token list (5). Training and later stages are the same pipeline as the
demo and FSDD recipe tests run end to end.
"""

import re
import subprocess

import soundfile

from conftest import copy_recipe, shared_dataset


def test_data_stages_from_the_archive(tmp_path):
    archive = shared_dataset("mini_an4") / "downloads.tar.gz"
    recipe, env = copy_recipe("an4", tmp_path, AN4=str(archive))
    cmd = [str(recipe / "run.sh"), "--stop_stage", "5",
           "--local_data_opts", "--num_dev 1 --num_labeled 2"]  # fmt: skip
    done = subprocess.run(cmd, cwd=recipe, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    ran = sorted({int(n) for n in re.findall(r"\(bljust.sh\) stage (\d+):", done.stdout)})
    assert ran == [1, 2, 3, 4, 5]
    (an4,) = (recipe / "downloads").glob("**/an4/etc/..")  # unpacked from the archive
    counts = {}
    for name in ("train_labeled", "train_unlabeled", "dev", "test"):
        dumped = (recipe / "dump" / "raw" / name / "wav.scp").read_text().splitlines()
        counts[name] = len(dumped)
        info = soundfile.info(dumped[0].split(maxsplit=1)[1])
        assert (info.samplerate, info.subtype, info.channels) == (16000, "PCM_16", 1)
    assert counts["train_labeled"] == 2 and counts["dev"] == 1 and counts["test"] == 2
    assert counts["train_labeled"] + counts["train_unlabeled"] + counts["dev"] == len(
        (an4 / "etc" / "an4_train.fileids").read_text().split())
    assert not (recipe / "dump" / "raw" / "train_unlabeled" / "text").exists()
    tokens = (recipe / "data" / "token_list" / "char" / "tokens.txt").read_text().split()
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>"
    labeled_chars = set("".join(
        line.split(maxsplit=1)[1].replace(" ", "")
        for line in (recipe / "data" / "train_labeled" / "text").read_text().splitlines()))  # fmt: skip
    assert labeled_chars <= set(tokens)  # from the labeled text only
