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
4. test: decoded once per final run, only now (the decoding job itself
   refuses without fixed choices);
5. the report (:mod:`~espnet_bljust.experiments.protocol_report`).

Every job's result is saved beside its run and reused by the next call.
"""

import json
import shlex
import signal
from pathlib import Path
from typing import Dict, List, Optional

from espnet_bljust.experiments.argv import argv_ngpu, budget_argv, train_argv
from espnet_bljust.experiments.budget import plan_for_budget
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
                gpu=argv_ngpu(argv) > 0,
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
                log=out / "lm.log", result=out / "lm.json", key=kwargs)  # fmt: skip


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


def fix_choices(protocol: Protocol, data: Path, out: Path, jobs: int) -> dict:
    """Stages 1-2: tune every strategy on dev, record the choices (reused once made)."""
    path = out / "choices.json"
    if path.exists():
        choices = json.loads(path.read_text())
        if choices["protocol_sha256"] != protocol.sha256:
            raise SystemExit(f"compare_strategies: {path} was fixed under protocol "
                             f"{choices['protocol_sha256']}, not {protocol.sha256} "
                             f"({protocol.path}); a changed protocol needs a new --out_dir")  # fmt: skip
        return choices
    seeds, trials, runs = protocol.tuning_seeds, {}, {}
    for strategy in protocol.strategies:
        for trial in protocol.trials(strategy):
            trials[trial.name] = trial
            for seed in seeds:
                name = protocol.tuning_run(trial, seed)
                exp = out / "tune" / name
                runs[name] = train_job(name, run_argv(protocol, data, exp, trial, seed), exp)
    lm = lm_job(protocol, data, out)
    records = run_jobs(list(runs.values()) + ([lm] if lm else []), jobs, protocol.raw["threads"])
    _ok(records, list(runs), "tuning runs")
    run_cer = {name: best_dev_cer(records[name]["value"]) for name in runs}
    # A trial's dev CER: the mean over the tuning seeds of each run's best.
    dev_cer = {n: sum(run_cer[protocol.tuning_run(t, seed)] for seed in seeds) / len(seeds)
               for n, t in trials.items()}  # fmt: skip
    chosen = {s: min((n for n, t in trials.items() if t.strategy == s),
                     key=lambda n: (dev_cer[n], n)) for s in protocol.strategies}  # fmt: skip
    decode = protocol.raw["decode"]
    rule_jobs = [dict(name=f"dev_rules {name}", target=f"{JOBS}:dev_rules",
                      kwargs=dict(exp=str(out / "tune" / name), data=str(data),
                                  rules=protocol.rules(), beam_size=decode["beam_size"],
                                  nj=decode.get("nj", 1)),
                      log=out / "tune" / f"{name}.dev_rules.log",
                      result=out / "tune" / f"{name}.dev_rules.json", key=protocol.rules())
                 for name in (protocol.tuning_run(trials[n], seed) for n in chosen.values()
                              for seed in seeds)]  # fmt: skip
    decoded = run_jobs(rule_jobs, jobs, protocol.raw["threads"])
    _ok(decoded, [j["name"] for j in rule_jobs], "dev decodes of the checkpoint rules")
    mean_wer = {r: sum(decoded[j["name"]]["value"][r]["wer"] for j in rule_jobs) / len(rule_jobs)
                for r in protocol.rules()}  # fmt: skip
    rules = protocol.rules()
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
    print(f"[fixed] {path}: trials {chosen}, checkpoint {choices['checkpoint_rule']}", flush=True)
    return choices


def final_runs(protocol: Protocol, data: Path, out: Path, choices: dict, jobs: int,
               decode_test: bool) -> List[dict]:  # fmt: skip
    """Stages 3-4: every strategy x seed trained with its chosen trial, its LM
    weight picked on dev, then (``decode_test``) test decoded once."""
    runs, threads = [], protocol.raw["threads"]
    for seed in protocol.seeds:
        for strategy in protocol.strategies:
            c = choices["chosen"][strategy]
            trial = Trial(**{k: c[k] for k in Trial.__dataclass_fields__})
            exp = out / "final" / f"{strategy}_seed{seed}"
            job = train_job(exp.name, run_argv(protocol, data, exp, trial, seed), exp)
            runs.append(dict(strategy=strategy, seed=seed, exp=exp, trial=c["name"], train=job))
    records = run_jobs([r["train"] for r in runs], jobs, threads)
    _ok(records, [r["train"]["name"] for r in runs], "final runs")
    lm, rule, decode = choices["lm"], choices["checkpoint_rule"], protocol.raw["decode"]
    if lm is not None:
        lm_conf = protocol.raw["lm"]
        dev_jobs = [dict(name=f"dev_lm {r['exp'].name}", target=f"{JOBS}:dev_lm",
                         kwargs=dict(exp=str(r["exp"]), data=str(data), rule=rule, lm=lm,
                                     weights=lm_conf["weights"], beam_size=lm_conf["beam_size"],
                                     nj=decode.get("nj", 1)),
                         log=r["exp"].parent / f"{r['exp'].name}.dev_lm.log",
                         result=r["exp"].parent / f"{r['exp'].name}.dev_lm.json",
                         key=[rule, lm, lm_conf["weights"], lm_conf["beam_size"]]) for r in runs]  # fmt: skip
        dev = run_jobs(dev_jobs, jobs, threads)
        _ok(dev, [j["name"] for j in dev_jobs], "LM weight choices on dev")
    for r in runs:
        r.update(records[r["train"]["name"]]["value"])
        if lm is not None:
            r.update(dev[f"dev_lm {r['exp'].name}"]["value"])
    if not decode_test:
        return runs
    test_jobs = []
    for r in runs:
        kwargs = dict(exp=str(r["exp"]), data=str(data), choices=str(out / "choices.json"),
                      sha256=protocol.sha256, beam_size=decode["beam_size"], lm=lm,
                      lm_weight=r.get("lm_weight", 0.0), nj=decode.get("nj", 1),
                      lm_beam_size=(protocol.raw["lm"] or {}).get("beam_size", 10))  # fmt: skip
        test_jobs.append(dict(name=f"test {r['exp'].name}", target=f"{JOBS}:decode_test_set",
                              kwargs=kwargs, log=r["exp"].parent / f"{r['exp'].name}.test.log",
                              result=r["exp"].parent / f"{r['exp'].name}.test.json",
                              key=dict(kwargs, train=r["train"]["key"])))  # fmt: skip
    tests = run_jobs(test_jobs, jobs, threads)
    _ok(tests, [j["name"] for j in test_jobs], "test decodes")
    for r, job in zip(runs, test_jobs):
        r["test"] = tests[job["name"]]["value"]
    return runs


def run(protocol_path: Path, out_dir: Path, command: str, jobs: int = 1,
        stop_before: Optional[str] = None) -> Dict[str, Path]:  # fmt: skip
    """The whole protocol into ``out_dir`` (see the module docstring); stops
    before the final runs (``stop_before="final"``) or before test
    (``"test"``). Returns the report's paths."""
    from espnet_bljust.experiments import protocol_report

    try:
        protocol = load_protocol(protocol_path)
    except ProtocolError as e:
        raise SystemExit(f"compare_strategies: {e}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = prepare_data(protocol, out)
    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        choices = fix_choices(protocol, data, out, jobs)
        if stop_before == "final":
            return dict(choices=out / "choices.json")
        runs = final_runs(protocol, data, out, choices, jobs, decode_test=stop_before != "test")
    finally:
        signal.signal(signal.SIGTERM, previous)
    paths = protocol_report.write(protocol, choices, runs, out, command)
    print(paths["results"].read_text())
    return paths
