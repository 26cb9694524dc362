"""The comparison a protocol file fixes, stage by stage, resumable.

1. tuning: every trial of every strategy, one seed, budgeted by compute
   (:mod:`~espnet_bljust.experiments.budget`); the LM beside them;
2. choices: per strategy the trial with the lowest best dev CER; the
   checkpoint rule with the lowest mean dev WER of those runs (ties: the
   first listed); written to
   ``choices.json`` with the protocol's sha256 and the commit (fixed from then
   on: a later call under another protocol stops);
3. final runs: every strategy x seed with its chosen trial; the LM weight of
   each picked on dev;
4. test: decoded once per final run, right after its LM weight is chosen,
   when every choice it depends on is fixed (the decoding job itself refuses
   without fixed choices);
5. the report (:mod:`~espnet_bljust.experiments.protocol_report`).

Every job's result is saved beside its run and reused by the next call;
with a ledger (``--ledger``) also in a folder git keeps, so that a fresh
checkout continues where the last one stopped.
"""

import json
import shlex
import signal
from pathlib import Path
from typing import Dict, List, Optional

from espnet_bljust.experiments.argv import argv_ngpu, budget_argv, train_argv
from espnet_bljust.experiments.budget import plan_for_budget
from espnet_bljust.experiments.ledger import Ledger
from espnet_bljust.experiments.protocol import (
    ESPEAK_SIZES,
    Protocol,
    ProtocolError,
    Trial,
    load_protocol,
    stamp,
)
from espnet_bljust.experiments.schedule import exit_on_sigterm, run_jobs
from espnet_bljust.experiments.splits import prepare_espeak, prepare_split_dir, prepare_unseen_fsdd

JOBS = "espnet_bljust.experiments.protocol_jobs"


def prepare_data(protocol: Protocol, out: Path) -> Path:
    """The protocol's split under ``out/data``."""
    corpus = protocol.raw["corpus"]
    if corpus["split"] == "unseen":
        return prepare_unseen_fsdd(protocol.repo_path(corpus["fsdd"]), out / "data",
                                   corpus["test_speakers"], corpus["dev_speakers"],
                                   corpus.get("labeled_takes", 4), corpus.get("dev_takes", 30))
    if corpus["split"] == "espeak":
        return prepare_espeak(out / "corpus", out / "data", **{k: corpus[k] for k in ESPEAK_SIZES},
            seed=corpus.get("seed", 0), dev_speakers=corpus.get("dev_speakers", "held_out"))
    return prepare_split_dir(protocol.repo_path(corpus["data_dir"]), out / "data")


def run_argv(protocol: Protocol, data: Path, exp: Path, trial: Trial, seed: int) -> List[str]:
    """bljust_train options of ``trial`` with ``seed``: the shared config, the
    budget's plan for the trial's strategy, the trial's own options last."""
    budget, source = protocol.raw["budget"], protocol.raw["upper_unsup_source"]
    plan = plan_for_budget(trial.strategy, budget["passes"], budget["epochs"],
                           trial.exploration_frac, trial.finetune_frac,
                           trial.lower_steps_per_upper, source)  # fmt: skip
    return train_argv(
        data, exp, protocol.repo_path(protocol.raw["config"]), "--seed", str(seed),
        *budget_argv(plan, source, trial.lower_steps_per_upper),
        "--keep_nbest_models", str(protocol.max_average()),
        *shlex.split(protocol.raw["train_args"] or ""), *shlex.split(trial.train_args),
    )  # fmt: skip


def train_job(name: str, argv: List[str], exp: Path) -> dict:
    return dict(name=name, target="espnet_bljust.experiments.training:train_run",
                kwargs=dict(argv=argv, exp=str(exp), resume=True), log=exp.parent / f"{exp.name}.log",
                gpu=argv_ngpu(argv) > 0, outputs=[str(exp / "checkpoint.pth")],
                result=exp.parent / f"{exp.name}.train.json", key=argv)  # fmt: skip


def lm_job(protocol: Protocol, data: Path, out: Path) -> Optional[dict]:
    lm = protocol.raw["lm"]
    if lm is None:
        return None
    kwargs = dict(train_text=str(data / "train_labeled" / "text"),
                  valid_text=str(data / "dev" / "text"), token_list=str(data / "tokens.txt"),
                  out_dir=str(out / "lm"), config=str(protocol.repo_path(lm["config"])),
                  extra=shlex.split(lm.get("train_args", "")))  # fmt: skip
    return dict(name="lm", target="espnet_bljust.recipe.text_lm:train_text_lm", kwargs=kwargs,
                log=out / "lm.log", result=out / "lm.json", key=kwargs,
                products=[str(out / "lm" / "config.yaml")])  # fmt: skip


def _ok(records: Dict[str, dict], names: List[str], what: str) -> None:
    failed = [n for n in names if not records.get(n, {}).get("ok")]
    if failed:
        raise SystemExit(f"compare_strategies: {what} failed: {', '.join(failed)} (see the "
                         "logs; the next call runs them again)")  # fmt: skip


def best_dev_cer(value: dict) -> float:
    """Lowest dev CER (%) of a finished run's epochs (inf: none validated)."""
    cers = [e["valid"]["cer_ctc"] for e in value["epochs"].values()
            if "cer_ctc" in e.get("valid", {})]  # fmt: skip
    return 100.0 * min(cers) if cers else float("inf")


def fix_choices(protocol: Protocol, data: Path, out: Path, jobs: int, ledger=None) -> dict:
    """Stages 1-2: tune every strategy on dev, record the choices (reused once made).

    Each tuning run is decoded on dev with every checkpoint rule right after
    it trains (one chain of jobs), so that its records are complete before
    its models can be lost; the rules of the chosen trials' runs are compared.
    """
    path = out / "choices.json"
    if path.exists():
        choices = json.loads(path.read_text())
        if choices["protocol_sha256"] != protocol.sha256:
            raise SystemExit(f"compare_strategies: {path} was fixed under protocol "
                             f"{choices['protocol_sha256']}, not {protocol.sha256} "
                             f"({protocol.path}); a changed protocol needs a new --out_dir")  # fmt: skip
        return choices
    seeds, trials, runs, rule_jobs = protocol.tuning_seeds, {}, {}, {}
    decode = protocol.raw["decode"]
    for strategy in protocol.strategies:
        for trial in protocol.trials(strategy):
            trials[trial.name] = trial
            for seed in seeds:
                name = protocol.tuning_run(trial, seed)
                exp = out / "tune" / name
                runs[name] = train_job(name, run_argv(protocol, data, exp, trial, seed), exp)
                rule_jobs[name] = dict(
                    name=f"dev_rules {name}", target=f"{JOBS}:dev_rules", after=name,
                    kwargs=dict(exp=str(exp), data=str(data), rules=protocol.rules(),
                                beam_size=decode["beam_size"], nj=decode.get("nj", 1)),
                    log=out / "tune" / f"{name}.dev_rules.log",
                    result=out / "tune" / f"{name}.dev_rules.json",
                    key=[protocol.rules(), runs[name]["key"]])  # fmt: skip
    lm = lm_job(protocol, data, out)
    records = run_jobs([*runs.values(), *rule_jobs.values(), *([lm] if lm else [])], jobs,
                       protocol.raw["threads"], ledger)  # fmt: skip
    _ok(records, list(runs), "tuning runs")
    _ok(records, [j["name"] for j in rule_jobs.values()], "dev decodes of the checkpoint rules")
    if lm:
        _ok(records, ["lm"], "the LM")
    run_cer = {name: best_dev_cer(records[name]["value"]) for name in runs}
    # A trial's dev CER: the mean over the tuning seeds of each run's best.
    dev_cer = {n: sum(run_cer[protocol.tuning_run(t, seed)] for seed in seeds) / len(seeds)
               for n, t in trials.items()}  # fmt: skip
    # ties: the trial listed first
    chosen = {s: min((n for n, t in trials.items() if t.strategy == s),
                     key=lambda n: (dev_cer[n], trials[n].index))
              for s in protocol.strategies}  # fmt: skip
    scored = [records[rule_jobs[protocol.tuning_run(trials[n], seed)]["name"]]["value"]
              for n in chosen.values() for seed in seeds]  # fmt: skip
    rules = protocol.rules()
    mean_wer = {r: sum(v[r]["wer"] for v in scored) / len(scored) for r in rules}
    choices = dict(
        stamp(protocol), tuning_seeds=seeds, trial_dev_cer=dev_cer,
        run_dev_cer=run_cer if len(seeds) > 1 else None,
        chosen={s: dict(trials[n].__dict__, name=n, dev_cer=dev_cer[n])
                for s, n in chosen.items()},
        rule_dev_wer=mean_wer,
        checkpoint_rule=min(rules, key=lambda r: (mean_wer[r], rules.index(r))),
        lm=records["lm"]["value"] if lm else None,
    )  # fmt: skip
    path.write_text(json.dumps(choices, indent=1))
    if ledger is not None:
        ledger.keep(path)
    print(f"[fixed] {path}: trials {chosen}, checkpoint {choices['checkpoint_rule']}", flush=True)
    return choices


def final_runs(protocol: Protocol, data: Path, out: Path, choices: dict, jobs: int,
               decode_test: bool, ledger=None) -> List[dict]:  # fmt: skip
    """Stages 3-4: every strategy x seed trained with its chosen trial, its LM
    weight picked on dev, then (``decode_test``) test decoded once. Each run
    is one chain of jobs (train, dev LM weights, test), so that its decodes
    follow its training before its slot takes another run, and its records
    are complete before its models can be lost."""
    threads, lm, rule = protocol.raw["threads"], choices["lm"], choices["checkpoint_rule"]
    decode, lm_conf = protocol.raw["decode"], protocol.raw["lm"] or {}
    if lm is not None:  # the LM's files (trained again in a checkout that lacks them)
        made = run_jobs([lm_job(protocol, data, out)], jobs, threads, ledger)
        _ok(made, ["lm"], "the LM")
        sha1 = made["lm"]["value"].get("model_sha1")
        if lm.get("model_sha1") is not None and sha1 != lm["model_sha1"]:
            print(f"[lm] trained again: its weights differ from those the choices were fixed "
                  f"with (sha1 {lm.get('model_sha1')} -> {sha1})", flush=True)  # fmt: skip
    runs, chains = [], {}
    for seed in protocol.seeds:
        for strategy in protocol.strategies:
            c = choices["chosen"][strategy]
            trial = Trial(**{k: c[k] for k in Trial.__dataclass_fields__})
            exp = out / "final" / f"{strategy}_seed{seed}"
            train = train_job(exp.name, run_argv(protocol, data, exp, trial, seed), exp)
            runs.append(dict(strategy=strategy, seed=seed, exp=exp, trial=c["name"], train=train))
            chain = chains[exp.name] = {"train": train}
            if lm is not None:
                chain["dev_lm"] = dict(
                    name=f"dev_lm {exp.name}", target=f"{JOBS}:dev_lm", after=train["name"],
                    kwargs=dict(exp=str(exp), data=str(data), rule=rule, lm=lm,
                                weights=lm_conf["weights"], beam_size=lm_conf["beam_size"],
                                nj=decode.get("nj", 1)),
                    log=exp.parent / f"{exp.name}.dev_lm.log",
                    result=exp.parent / f"{exp.name}.dev_lm.json",
                    key=[rule, lm, lm_conf["weights"], lm_conf["beam_size"], train["key"]])  # fmt: skip
            if decode_test:
                kwargs = dict(exp=str(exp), data=str(data), choices=str(out / "choices.json"),
                              sha256=protocol.sha256, beam_size=decode["beam_size"], lm=lm,
                              nj=decode.get("nj", 1), lm_beam_size=lm_conf.get("beam_size", 10),
                              dev_lm_record=str(chain["dev_lm"]["result"]) if lm else None)  # fmt: skip
                chain["test"] = dict(
                    name=f"test {exp.name}", target=f"{JOBS}:decode_test_set",
                    after=list(chain.values())[-1]["name"], kwargs=kwargs,
                    log=exp.parent / f"{exp.name}.test.log",
                    result=exp.parent / f"{exp.name}.test.json",
                    key=dict(kwargs, train=train["key"]))  # fmt: skip
    records = run_jobs([j for c in chains.values() for j in c.values()], jobs, threads, ledger)
    for stage, what in (("train", "final runs"), ("dev_lm", "LM weight choices on dev"),
                        ("test", "test decodes")):  # fmt: skip
        names = [c[stage]["name"] for c in chains.values() if stage in c]
        if names:
            _ok(records, names, what)
    for r in runs:
        chain = chains[r["exp"].name]
        r.update(records[chain["train"]["name"]]["value"])
        if "dev_lm" in chain:
            r.update(records[chain["dev_lm"]["name"]]["value"])
        if "test" in chain:
            r["test"] = records[chain["test"]["name"]]["value"]
        r["commits"] = {stage: records[job["name"]].get("commit") for stage, job in chain.items()}
        r["checkouts"] = {stage: records[job["name"]]["checkout_commit"]
                          for stage, job in chain.items()
                          if records[job["name"]].get("checkout_commit")}  # fmt: skip
    return runs


def run(protocol_path: Path, out_dir: Path, command: str, jobs: int = 1,
        stop_before: Optional[str] = None, ledger_dir: Optional[Path] = None) -> Dict[str, Path]:  # fmt: skip
    """The whole protocol into ``out_dir`` (see the module docstring); stops
    before the final runs (``stop_before="final"``) or before test
    (``"test"``). With ``ledger_dir`` every finished job's record (and the
    choices) is also kept there, and records found there are used in place
    of jobs ``out_dir`` lacks (:class:`~espnet_bljust.experiments.ledger.Ledger`).
    Returns the report's paths."""
    from espnet_bljust.experiments import protocol_report

    try:
        protocol = load_protocol(protocol_path)
    except ProtocolError as e:
        raise SystemExit(f"compare_strategies: {e}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ledger = None
    if ledger_dir is not None:
        ledger = Ledger(ledger_dir, out)
        print(f"[ledger] {ledger.restore()} records from {ledger_dir}", flush=True)
    data = prepare_data(protocol, out)
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        choices = fix_choices(protocol, data, out, jobs, ledger)
        if stop_before == "final":
            return dict(choices=out / "choices.json")
        runs = final_runs(protocol, data, out, choices, jobs, decode_test=stop_before != "test",
                          ledger=ledger)  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
    paths = protocol_report.write(protocol, choices, runs, out, command)
    print(paths["results"].read_text())
    return paths
