"""Running the planned jobs, ``--jobs`` at a time: trainings, LM trainings,
LM decodings; finished runs are reused, a stopped harness stops its children."""

import argparse
import json
import time
from pathlib import Path
from typing import Dict, List, Optional

from espnet_bljust.experiments.lm_search import finish_lm_train, lm_key, same_lm_decoding
from espnet_bljust.experiments.runs import ChildRun

def execute(runs: List[dict], args: argparse.Namespace,
            lm_plan: Optional[Dict[str, dict]] = None) -> List[dict]:  # fmt: skip
    """Run (or reuse) every planned run, ``--jobs`` at a time; results in place.

    ``lm_plan`` (:func:`plan_lms`, from ``--lm_config``): {data dir: the LM to
    train on it}. The LMs are trained first, as jobs beside the first runs
    (they take a minute, a run several); every run on that data is then
    decoded with its LM in a job of its own once both are done, and a reused
    run that has no LM decoding with these options gets only that.
    """
    lm_plan = lm_plan or {}
    pending: List[tuple] = [(data, "lm_train") for data in lm_plan]
    for run in runs:
        saved = Path(run["exp"]) / "run.json"
        if not args.rerun and saved.exists():
            old = json.loads(saved.read_text())
            if old.get("argv") == run["argv"] and old.get("ok"):
                run.update(old)
                print(f"[reuse] {run['exp']}", flush=True)
                if run["data"] in lm_plan:
                    pending.append((run, "lm"))
                continue
        pending.append((run, "train"))
    active: List = []
    try:
        _run_pending(pending, active, args, lm_plan, {})
    finally:  # stopped (Ctrl-C, SIGTERM, an error): no child run outlives the harness
        for item, kind, child, _ in active:
            child.stop()
            what = (f"LM on {item}" if kind == "lm_train"
                    else f"{item['strategy']} seed {item['seed']}")  # fmt: skip
            again = "continued" if kind == "train" else "started again"
            print(f"[stopped] {what} ({kind}, pid {child.process.pid}): {again} by the next call",
                  flush=True)  # fmt: skip
    return runs


def _run_pending(pending: List, active: List, args: argparse.Namespace,
                 lm_plan: Dict[str, dict], lm_by_data: Dict[str, dict]) -> None:  # fmt: skip
    """:func:`execute`'s loop: start children up to ``--jobs``, collect them.

    ``pending``: (run, "train" | "lm") or (data dir, "lm_train"); an "lm" job
    waits for its data's LM (``lm_by_data``, filled as the LMs finish)."""
    while pending or active:
        while len(active) < max(1, args.jobs):
            ready = [p for p in pending if p[1] != "lm" or p[0]["data"] in lm_by_data]
            if not ready:
                break
            pending.remove(ready[0])
            child = _start(*ready[0], args, lm_plan, lm_by_data)
            if child is not None:
                active.append((*ready[0], child, time.monotonic()))
        time.sleep(0.5)
        now = time.monotonic()
        for entry in [a for a in active
                      if a[2].done() or (args.timeout and now - a[3] > args.timeout)]:  # fmt: skip
            active.remove(entry)
            item, kind, child, _ = entry
            result = child.result(timeout=None if child.done() else 0)
            if kind == "lm_train":
                lm_by_data[item] = finish_lm_train(item, result, lm_plan[item])
            elif kind == "train":
                _finish(item, result)
                if item["ok"] and item["data"] in lm_plan:  # next: its LM decoding
                    pending.insert(0, (item, "lm"))
            else:
                _finish_lm(item, result)


def _start(item, kind: str, args: argparse.Namespace, lm_plan: Dict[str, dict],
           lm_by_data: Dict[str, dict]) -> Optional[ChildRun]:  # fmt: skip
    """The child process of one pending job, started; None when an "lm" job
    finds the run already decoded with this LM and these options."""
    if kind == "lm_train":
        plan = lm_plan[item]
        child = ChildRun("espnet_bljust.recipe.text_lm:train_text_lm", plan["kwargs"],
                         plan["log"], args.threads).start()  # fmt: skip
        print(f"[lm] training {plan['kwargs']['config']} on {plan['kwargs']['train_text']} -> "
              f"{plan['kwargs']['out_dir']} (log {plan['log']}, pid {child.process.pid})",
              flush=True)  # fmt: skip
        return child
    run, name = item, Path(item["exp"]).name
    if kind == "train":  # a run cut by a stop continues; --rerun and failed runs start anew
        kwargs = dict(argv=run["argv"], exp=run["exp"], data=run["data"],
                      beam_size=args.beam_size, average_nbest=args.average_nbest,
                      resume=not args.rerun and not _failed_before(run["exp"]))  # fmt: skip
        target, log = "training:train_and_decode", Path(run["exp"]).parent / f"{name}.log"
    else:
        lm = lm_by_data[run["data"]]
        key = lm_key(**lm)
        if run.get("lm_key") == key:
            print(f"[reuse] {run['exp']}: decoded with this LM before", flush=True)
            return None
        kwargs = dict(exp=run["exp"], data=run["data"], average_nbest=args.average_nbest, **lm)
        if same_lm_decoding(run.get("lm_key"), key):  # only --lm_weight_max changed
            kwargs["previous"] = {k: v for k, v in run.items()
                                  if k in ("lm_weight", "dev_wer_lm") or k.startswith("test_")}
        target, log = "lm_search:lm_decode", Path(run["exp"]).parent / f"{name}.lm.log"
    child = ChildRun(f"espnet_bljust.experiments.{target}", kwargs, log,
                     args.threads).start()  # fmt: skip
    print(f"[start] {run['strategy']} seed {run['seed']} labeled {run['labeled']} "
          f"({'training' if kind == 'train' else 'LM decoding'}) -> {run['exp']} "
          f"(log {log}, pid {child.process.pid})", flush=True)  # fmt: skip
    return child


def _failed_before(exp) -> bool:
    """Whether an earlier call recorded the run in ``exp`` as failed."""
    saved = Path(exp) / "run.json"
    return saved.exists() and not json.loads(saved.read_text()).get("ok")


def exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _finish(run: dict, result: dict) -> None:
    run["ok"] = bool(result.get("ok"))
    run["error"] = result.get("error")
    if run["ok"]:
        run.update(result["value"])
        lm = (f", with the LM (weight {run['lm_weight']:g}) {run['test_wer_lm']:.1f}%"
              if "test_wer_lm" in run else "")  # fmt: skip
        print(f"[done] {run['strategy']} seed {run['seed']}: test WER {run['test_wer']:.1f}% "
              f"CER {run['test_cer']:.1f}%{lm}, {run['train_wall_s']:.0f} s, "
              f"{run['train_peak_rss_mb']:.0f} MiB", flush=True)  # fmt: skip
    else:
        print(f"[failed] {run['strategy']} seed {run['seed']}: {run['error']}", flush=True)
    _save(run)


def _finish_lm(run: dict, result: dict) -> None:
    """A reused run's LM decoding: its results join the run's; a failure is
    kept as ``lm_error`` (the run's own results stand)."""
    if result.get("ok"):
        run.update(result["value"])
        run.pop("lm_error", None)
        ran = ", ".join(f"{name} at {w:g}" for name, w in run.get("lm_decodes", [])) or "none"
        print(f"[done] {run['strategy']} seed {run['seed']}: with the LM (weight "
              f"{run['lm_weight']:g}) test WER {run['test_wer_lm']:.1f}% (decoded: {ran})",
              flush=True)  # fmt: skip
    else:
        run["lm_error"] = result.get("error")
        print(f"[failed] LM decoding of {run['strategy']} seed {run['seed']}: "
              f"{run['lm_error']}", flush=True)  # fmt: skip
    _save(run)


def _save(run: dict) -> None:
    Path(run["exp"]).mkdir(parents=True, exist_ok=True)
    tmp = Path(run["exp"]) / "run.json.tmp"
    tmp.write_text(json.dumps(run, indent=1))
    tmp.replace(Path(run["exp"]) / "run.json")




def _saved(job: dict) -> Optional[dict]:
    path = Path(job["result"])
    return json.loads(path.read_text()) if path.exists() else None


def _reusable(job: dict, saved: Optional[dict]) -> bool:
    return bool(saved and saved.get("ok") and saved.get("key") == job["key"])


def _chains(jobs: List[dict]) -> List[List[dict]]:
    """``jobs`` grouped into chains by ``after`` (the name of the job a job
    follows; one follower per job), each chain in order."""
    names = {j["name"] for j in jobs}
    follower = {j["after"]: j for j in jobs if j.get("after") in names}
    chains = []
    for head in (j for j in jobs if j.get("after") not in names):
        chain = [head]
        while chain[-1]["name"] in follower:
            chain.append(follower[chain[-1]["name"]])
        chains.append(chain)
    return chains


def _to_run(chain: List[dict], records: Dict[str, dict]) -> List[dict]:
    """The jobs of ``chain`` still to run (finished ones go into ``records``).

    A chain runs from its first job without a reusable record (or whose
    ``products``, files other jobs read, are gone); from its start
    when a finished job's ``outputs`` (files the rest of the chain reads, e.g.
    a model) are gone, as in a fresh checkout whose records came from a
    :class:`~espnet_bljust.experiments.ledger.Ledger`. A training job
    (``resume``) that failed before, or is run again for its outputs, trains
    anew; one cut by a stop, with no record, continues.
    """
    saved = [_saved(j) for j in chain]
    done = [_reusable(j, s) and all(Path(f).exists() for f in j.get("products", ()))
            for j, s in zip(chain, saved)]  # fmt: skip
    first = done.index(False) if False in done else len(chain)
    if first < len(chain) and any(not Path(o).exists() for j in chain[:first]
                                  for o in j.get("outputs", ())):  # fmt: skip
        first = 0
    records.update((j["name"], s) for j, s in zip(chain[:first], saved[:first]))
    rest = [dict(j) for j in chain[first:]]
    if rest and rest[0]["kwargs"].get("resume") and saved[first]:
        rest[0]["kwargs"] = dict(rest[0]["kwargs"], resume=False)
    return rest


def run_jobs(jobs: List[dict], n: int = 1, threads: int = 1, ledger=None) -> Dict[str, dict]:
    """Run ``jobs`` in child processes, ``n`` at a time; each result saved.

    A job is {name, target ("module:function"), kwargs, log, result (a JSON
    path), key (what the result depends on)}, optionally ``after`` (the name
    of the job it follows: it starts once that one finished ok, before any
    other job starts), ``outputs`` and ``products`` (see :func:`_to_run`)
    and ``gpu``. A job whose saved result is ok and has the same key is
    reused, never run again;
    a failed one is run again by the next call (see :func:`_to_run`). Every
    record saved ok is copied into ``ledger`` (a
    :class:`~espnet_bljust.experiments.ledger.Ledger`). Stopped (Ctrl-C,
    SIGTERM turned into SystemExit), the running children are stopped too.
    Returns {name: saved record}: key, ok, error, value, wall_s, peak_rss_mb
    and commit (the commit of the code the job ran, see :class:`ChildRun`;
    with checkout_commit where the checkout had moved on since; neither is
    part of the key, so a record stays reusable across commits).
    Own loop, not concurrent.futures: a pool's workers are reused and cannot
    be killed one by one on SIGTERM.
    """
    records: Dict[str, dict] = {}
    pending = [rest for rest in (_to_run(c, records) for c in _chains(jobs)) if rest]
    if len(records):
        print(f"[reuse] {len(records)} finished jobs: {', '.join(records)}", flush=True)
    active: List = []
    try:
        while pending or active:
            while pending and len(active) < max(1, n):
                chain = pending.pop(0)
                job = chain[0]
                child = ChildRun(job["target"], job["kwargs"], job["log"], threads,
                                 gpu=job.get("gpu", False)).start()  # fmt: skip
                print(f"[start] {job['name']} (log {job['log']}, pid {child.process.pid})",
                      flush=True)  # fmt: skip
                active.append((chain, child))
            time.sleep(0.5)
            for chain, child in [a for a in active if a[1].done()]:
                active.remove((chain, child))
                job = chain[0]
                result = child.result()
                record = dict(key=job["key"], **{k: result.get(k) for k in
                              ("ok", "error", "value", "wall_s", "peak_rss_mb")},
                              commit=child.commit)  # fmt: skip
                if child.checkout_commit != child.commit:
                    record["checkout_commit"] = child.checkout_commit
                _write_json(Path(job["result"]), record)
                records[job["name"]] = record
                if record["ok"] and ledger is not None:
                    ledger.keep(Path(job["result"]))
                if record["ok"] and len(chain) > 1:  # its chain goes on first
                    pending.insert(0, chain[1:])
                state = "done" if record["ok"] else f"failed: {record['error']}"
                print(f"[{state.split(':')[0]}] {job['name']} ({record['wall_s'] or 0:.0f} s)"
                      + ("" if record["ok"] else f" {record['error']}; see {job['log']}"),
                      flush=True)  # fmt: skip
    finally:
        for chain, child in active:
            child.stop()
            again = ("continued" if chain[0]["kwargs"].get("resume") else "started again")
            print(f"[stopped] {chain[0]['name']} (pid {child.process.pid}): {again} by the next "
                  "call", flush=True)  # fmt: skip
    return records


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str))
    tmp.replace(path)
