"""run_jobs: chains of jobs (a run's training, then its decodes), reuse of
saved records, and a chain run again where its models are gone."""

import json

from espnet_bljust.experiments.ledger import Ledger
from espnet_bljust.experiments.protocol import git_commit
from espnet_bljust.experiments.schedule import run_jobs


def chain(tmp_path, model):
    """A "training" that writes ``model`` and a "decode" after it that reads it."""
    source = tmp_path / "weights"
    source.write_text("w")
    train = dict(name="train", target="shutil:copyfile", kwargs=dict(src=source, dst=model),
                 log=tmp_path / "train.log", result=tmp_path / "train.json", key="t",
                 outputs=[str(model)])  # fmt: skip
    decode = dict(name="decode", target="os.path:getsize", kwargs=dict(filename=str(model)),
                  log=tmp_path / "decode.log", result=tmp_path / "decode.json", key="d",
                  after="train")  # fmt: skip
    return [decode, train]  # any order: a job runs after the one it names


def started(capsys):
    return [line.split()[1] for line in capsys.readouterr().out.splitlines()
            if line.startswith("[start]")]  # fmt: skip


def test_a_chain_runs_in_order_and_is_reused(tmp_path, capsys):
    model = tmp_path / "model.pth"
    records = run_jobs(chain(tmp_path, model), 2, 0)
    assert started(capsys) == ["train", "decode"]
    assert records["train"]["ok"] and records["decode"]["value"] == 1
    # each record names the commit its job ran at, outside its key
    assert records["train"]["commit"] == records["decode"]["commit"] == git_commit()
    assert json.loads((tmp_path / "train.json").read_text())["commit"] == git_commit()
    assert "checkout_commit" not in records["train"]
    run_jobs(chain(tmp_path, model), 2, 0)
    assert started(capsys) == []


def test_a_record_names_the_fork_servers_commit_and_a_moved_checkout(tmp_path, monkeypatch):
    from espnet_bljust.experiments import runs

    runs._context()  # the server imported its modules at some earlier commit
    monkeypatch.setattr(runs, "_SERVER_COMMIT", "0" * 40)
    records = run_jobs(chain(tmp_path, tmp_path / "model.pth"), 1, 0)
    assert records["train"]["commit"] == "0" * 40
    assert records["train"]["checkout_commit"] == git_commit()


def test_a_chain_whose_model_is_gone_runs_from_its_start_unless_it_is_complete(tmp_path, capsys):
    model = tmp_path / "model.pth"
    run_jobs(chain(tmp_path, model), 1, 0)
    capsys.readouterr()
    model.unlink()
    # complete: its records stand without the model
    run_jobs(chain(tmp_path, model), 1, 0)
    assert started(capsys) == []
    # the decode's record missing and the model gone: trained again, then decoded
    (tmp_path / "decode.json").unlink()
    run_jobs(chain(tmp_path, model), 1, 0)
    assert started(capsys) == ["train", "decode"]
    # the model there: only the decode runs
    (tmp_path / "decode.json").unlink()
    run_jobs(chain(tmp_path, model), 1, 0)
    assert started(capsys) == ["decode"]


def test_a_failed_job_stops_its_chain(tmp_path, capsys):
    jobs = chain(tmp_path, tmp_path / "missing" / "model.pth")  # no such folder: the copy fails
    records = run_jobs(jobs, 1, 0)
    assert not records["train"]["ok"] and "decode" not in records
    assert started(capsys) == ["train"]


def test_finished_records_go_to_the_ledger_and_come_back(tmp_path, capsys):
    out, root, fresh = tmp_path / "out", tmp_path / "ledger", tmp_path / "fresh"
    out.mkdir()
    fresh.mkdir()
    run_jobs(chain(out, out / "model.pth"), 1, 0, Ledger(root, out))
    assert json.loads((root / "decode.json").read_text())["ok"]
    # another checkout: no models, no records but the ledger's
    assert Ledger(root, fresh).restore() == 2
    capsys.readouterr()
    records = run_jobs(chain(fresh, fresh / "model.pth"), 1, 0, Ledger(root, fresh))
    assert started(capsys) == [] and records["decode"]["ok"]
