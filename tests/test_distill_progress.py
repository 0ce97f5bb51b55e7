"""A distillation job's progress is the whole job's: one bar and one ETA over every stage."""

from types import SimpleNamespace

from curation.services.training import distillation_job
from curation.services.training.distillation_job import DistillRun


def run_of(*steps):
    job = SimpleNamespace(params={}, metrics={}, errors=[])
    config = SimpleNamespace(stages=[SimpleNamespace(steps=n) for n in steps])
    return DistillRun(SimpleNamespace(job=job), config)


def report(step, total):
    return {"step": step, "total_steps": total, "eta_s": 999.0}


def test_done_and_total_run_over_every_stage_and_the_eta_comes_from_the_pace(monkeypatch):
    clock = iter([100.0, 110.0, 130.0])
    monkeypatch.setattr(distillation_job.time, "monotonic", lambda: next(clock))
    run = run_of(100, 300)
    assert run._whole_job(0, report(50, 100)) == (50, 400, None)  # no pace yet: no guess
    assert run._whole_job(0, report(100, 100)) == (100, 400, 300 * 10 / 50)  # 50 steps in 10 s
    done, total, eta = run._whole_job(1, report(50, 300))  # the second stage adds to the first
    assert (done, total) == (150, 400) and eta == 250 * 30 / 100


def test_stages_by_epochs_keep_the_stages_own_progress():
    run = run_of(100, None)
    assert run._whole_job(1, report(7, 20)) == (7, 20, 999.0)
