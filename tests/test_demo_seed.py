import pytest

from curation.models import GoldItem, Membership, Project, Prompt
from curation.services.demo import seed_demo


def test_seeding_the_demo_is_idempotent(db):
    seed_demo(log=lambda *_: None, with_teacher=False)
    counts = (Project.objects.count(), Prompt.objects.count(), GoldItem.objects.count(), Membership.objects.count())
    seed_demo(log=lambda *_: None, with_teacher=False)
    assert counts == (
        Project.objects.count(),
        Prompt.objects.count(),
        GoldItem.objects.count(),
        Membership.objects.count(),
    )
    triage = Project.objects.get(slug="ticket-triage")
    assert triage.task_type == "classification" and triage.labels == ["billing", "account", "technical", "other"]
    assert triage.gold_items.filter(confirmed=True).count() == triage.gold_items.count() > 0
    # A dev set drawn like gold (other seeds), about twice its size, tiered like it; none equal to gold.
    n_test, n_dev = (triage.gold_items.filter(purpose=p).count() for p in ("test", "dev"))
    assert n_test == 400 and 700 < n_dev <= 800
    assert not triage.gold_items.filter(tier__isnull=True).exists()
    assert set(Membership.objects.filter(project=triage).values_list("user__username", "role")) == {
        ("reviewer", "reviewer"),
        ("engineer", "engineer"),
    }


def test_demo_gold_prompts_are_not_among_the_training_prompts(db):
    seed_demo(log=lambda *_: None, with_teacher=False)
    for project in Project.objects.all():
        gold = set(project.gold_items.values_list("content_hash", flat=True))
        training = project.prompts.exclude(gold_items__isnull=False).values_list("content_hash", flat=True)
        assert gold and not gold & set(training)


@pytest.mark.slow  # runs the teacher generation job
def test_the_demo_registers_its_models_and_queues_the_teachers_first_pass_once(
    db, tiny_model_dir, tiny_student_dir, monkeypatch
):
    from curation.models import Job
    from curation.services import demo, jobs
    from curation.services.teacher import run_generation

    monkeypatch.setattr(jobs, "enqueue", lambda job_id: None)
    projects = seed_demo(log=lambda *_: None, with_teacher=False, sizes={"triage": (12, 4), "drafting": (6, 2)})
    models = {"teacher_dir": tiny_model_dir, "student_dir": tiny_student_dir}
    triage = projects["triage"]
    teacher, student = demo.register_demo_specs(triage, models)
    assert (teacher.role, student.role) == ("teacher", "student")
    # The student carries the recipe bench/demo.py measured, in a form the launch form reads.
    from curation.services.recipes import check_distill_defaults, distill_defaults

    assert student.defaults["distill"] == demo.DISTILL["triage"] and not check_distill_defaults(
        student.defaults["distill"]
    )
    assert distill_defaults(student)["stage"]["epochs"] == demo.DISTILL["triage"]["stage"]["epochs"]
    # The drafting student's launch form starts from its token-level KD recipe; its judge has a rubric.
    drafting = projects["drafting"]
    _, drafting_student = demo.register_demo_specs(drafting, models)
    assert drafting_student.defaults["distill"] == demo.DISTILL["drafting"]
    assert not check_distill_defaults(drafting_student.defaults["distill"])
    assert drafting.judge_rubric == demo.DRAFTING_RUBRIC and drafting.judge_spec is None
    job = demo.queue_demo_generation(triage, teacher, triage.memberships.get(role="engineer").user, log=lambda *_: None)
    assert job.params["frozen"]["count"] == 12  # the gold prompts are never generated for
    assert demo.queue_demo_generation(triage, teacher, None, log=lambda *_: None) is None
    assert jobs.run(job.id, run_generation) == "succeeded"
    assert triage.examples.count() == 12
    assert set(triage.examples.values_list("label", flat=True)) <= set(triage.labels)
    assert Job.objects.get(pk=job.pk).status == "succeeded"


def test_demo_gold_items_carry_tiers_so_the_report_draws_real_bars(db):
    seed_demo(log=lambda *_: None, with_teacher=False, sizes={"triage": (12, 60), "drafting": (6, 2)})
    triage = Project.objects.get(slug="ticket-triage")
    tiers = set(triage.gold_items.values_list("tier__name", flat=True))
    assert tiers == {"easy", "medium", "hard"}  # mixed intents hard, an aside medium, plain easy
    for item in triage.gold_items.select_related("prompt", "tier"):
        template = item.prompt.metadata["template"]
        expected = "hard" if ".mixed." in template else "medium" if "+aside." in template else "easy"
        assert item.tier.name == expected


def test_demo_teacher_steps_come_from_the_environment_or_the_recipe():
    from curation.services.demo import teacher_steps_from_env

    assert teacher_steps_from_env("") is None and teacher_steps_from_env("40") == 40
    with pytest.raises(ValueError, match="DEMO_TEACHER_STEPS"):
        teacher_steps_from_env("2.5")


def test_a_cached_student_built_another_way_is_built_again(settings, tmp_path, monkeypatch):
    """A student built before its embeddings came from the teacher is rebuilt; a current one is kept."""
    import json

    from curation.services import demo
    from workers.demo import student as student_module
    from workers.demo import teacher as teacher_module

    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(teacher_module, "build_demo_teacher", lambda *a, **k: {"cached": True, "meets_target": True})
    built = []

    def fake_build(teacher_dir, student_dir):
        built.append(student_dir)
        return {"parameters": 1, "latency_ratio": 6.0, "init": {"from": "teacher"}}

    monkeypatch.setattr(student_module, "build_demo_student", fake_build)
    info = tmp_path / "demo" / "student" / student_module.INFO_FILE
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"architecture": student_module.STUDENT_ARCH}))  # no "init": an older build
    demo.build_demo_models(log=lambda m: None)
    assert len(built) == 1
    info.write_text(json.dumps({"architecture": student_module.STUDENT_ARCH, "init": {"from": "teacher"}}))
    demo.build_demo_models(log=lambda m: None)
    assert len(built) == 1  # current: kept
