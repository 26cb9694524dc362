"""The data splits a comparison trains and decodes on (made once, then reused)."""

import json
from pathlib import Path
from typing import Optional, Sequence

def prepare_fsdd(
    fsdd: Path,
    out: Path,
    labeled_takes: int = 2,
    unlabeled_takes: int = -1,
    dev_takes: int = 5,
    test_takes: int = 5,
    speakers: Optional[Sequence[str]] = None,
) -> Path:
    """An FSDD split with shapes and a char token list (made once, then reused).

    Returns ``out`` holding train_labeled/, train_unlabeled/, dev/, test/ and
    tokens.txt (from the labeled text only).
    """
    from espnet_bljust.corpora.fsdd import make_fsdd_split
    from espnet_bljust.data.kaldi_lists import write_token_list_and_shapes

    out = Path(out)
    plan = dict(fsdd=str(Path(fsdd).resolve()), labeled_takes=labeled_takes,
                unlabeled_takes=unlabeled_takes, dev_takes=dev_takes,
                test_takes=test_takes, speakers=list(speakers) if speakers else None)  # fmt: skip
    stamp = out / "split.json"
    if stamp.exists() and json.loads(stamp.read_text()) == plan:
        return out
    dirs = make_fsdd_split(fsdd, out, labeled_takes, unlabeled_takes, dev_takes,
                           test_takes, speakers=speakers)  # fmt: skip
    write_token_list_and_shapes(
        dirs["train_labeled"] / "text", out / "tokens.txt", dirs.values()
    )
    stamp.write_text(json.dumps(plan, indent=1))
    return out


SPLIT_SETS = ("train_labeled", "train_unlabeled", "dev", "test")


def prepare_split_dir(src: Path, out: Path) -> Path:
    """A prepared split (e.g. a recipe's ``data/`` or ``dump/raw/``) for the harness.

    ``src`` holds Kaldi dirs train_labeled/, train_unlabeled/ (wav.scp only is
    enough), dev/ and test/. Their lists are copied into ``out`` with relative
    wav.scp paths made absolute (against ``src/<set>``), shape files and a char
    token list from the labeled text only are written (once; reused while the
    lists are unchanged). Returns ``out``.
    """
    from espnet_bljust.data.kaldi_lists import write_token_list_and_shapes

    src, out = Path(src).resolve(), Path(out)
    missing = [s for s in SPLIT_SETS if not (src / s / "wav.scp").is_file()]
    missing += [f"{s}/text" for s in SPLIT_SETS if s != "train_unlabeled"
                and not (src / s / "text").is_file()]  # fmt: skip
    if missing:
        raise SystemExit(f"compare_strategies: {src} lacks {', '.join(missing)} "
                         f"(a split needs {', '.join(SPLIT_SETS)})")  # fmt: skip
    lists = {}
    for name in SPLIT_SETS:
        entries = []
        for line in (src / name / "wav.scp").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            uid, path = line.split(maxsplit=1)
            if not path.rstrip().endswith("|") and not Path(path).is_absolute():
                path = str(src / name / path)
            entries.append(f"{uid} {path}\n")
        lists[name] = {"wav.scp": "".join(entries)}
        if (src / name / "text").is_file():
            lists[name]["text"] = (src / name / "text").read_text(encoding="utf-8")
    stamp = out / "split.json"
    if stamp.exists() and json.loads(stamp.read_text()) == lists:
        return out
    for name, files in lists.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for file, content in files.items():
            (out / name / file).write_text(content, encoding="utf-8")
    write_token_list_and_shapes(
        out / "train_labeled" / "text", out / "tokens.txt", [out / s for s in SPLIT_SETS]
    )
    stamp.write_text(json.dumps(lists))
    return out


def prepare_espeak(corpus: Path, out: Path, num_labeled: int, num_unlabeled: int,
                   num_dev: int, num_test: int, seed: int = 0,
                   dev_speakers: str = "held_out") -> Path:  # fmt: skip
    """The demo corpus (:func:`~espnet_bljust.corpora.espeak.make_corpus`)
    synthesized under ``corpus`` (audio and lists; audio already there is
    reused), then :func:`prepare_split_dir` into ``out``."""
    from espnet_bljust.corpora.espeak import make_corpus

    corpus = Path(corpus)
    make_corpus(corpus / "data", corpus / "wav", num_labeled, num_unlabeled, num_dev, num_test,
                seed, dev_speakers=dev_speakers)  # fmt: skip
    return prepare_split_dir(corpus / "data", out)


def num_utts(data_dir: Path) -> int:
    with open(Path(data_dir) / "wav.scp", encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())



def prepare_unseen_fsdd(fsdd: Path, out: Path, test_speakers: Sequence[str],
                        dev_speakers: Sequence[str], labeled_takes: int = 4,
                        dev_takes: int = 30) -> Path:  # fmt: skip
    """The FSDD unseen-speaker split (:func:`~espnet_bljust.corpora.fsdd.make_unseen_speaker_split`:
    test and dev speakers in no training stream) with shapes and a char token
    list from the labeled text only; made once, then reused."""
    from espnet_bljust.corpora.fsdd import make_unseen_speaker_split
    from espnet_bljust.data.kaldi_lists import write_token_list_and_shapes

    out = Path(out)
    plan = dict(fsdd=str(Path(fsdd).resolve()), split="unseen", test_speakers=list(test_speakers),
                dev_speakers=list(dev_speakers), labeled_takes=labeled_takes,
                dev_takes=dev_takes)  # fmt: skip
    stamp = out / "split.json"
    if stamp.exists() and json.loads(stamp.read_text()) == plan:
        return out
    dirs = make_unseen_speaker_split(fsdd, out, test_speakers, dev_speakers, labeled_takes,
                                     dev_takes)  # fmt: skip
    write_token_list_and_shapes(
        dirs["train_labeled"] / "text", out / "tokens.txt", dirs.values()
    )
    stamp.write_text(json.dumps(plan, indent=1))
    return out
