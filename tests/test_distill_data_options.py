"""What a distillation stage trains on: extra snapshots and a seeded subsample."""

from collections import Counter

import pytest

from curation.services.errors import Invalid
from curation.services.training.records import subsample
from curation.services.training.request import build_config, validate_distillation
from tests import distillkit as kit
from tests.distillkit import artifacts  # noqa: F401  (fixtures)


def keyed(n, prefix="row"):
    return [(f"{prefix}-{i}", {"i": i, "prefix": prefix}) for i in range(n)]


def test_a_subsample_keeps_round_fraction_of_the_rows_in_their_order_and_is_the_same_for_the_same_seed():
    rows = keyed(40)
    quarter = subsample(rows, 0.25, seed=7)
    assert len(quarter) == 10 and quarter == subsample(rows, 0.25, seed=7)
    assert [r[1]["i"] for r in quarter] == sorted(r[1]["i"] for r in quarter)
    assert quarter != subsample(rows, 0.25, seed=8)
    # At one seed a smaller share keeps a subset of a larger one's rows.
    assert {r[0] for r in subsample(rows, 0.1, seed=7)} <= {r[0] for r in quarter}
    assert len(subsample(rows, 0.001, seed=7)) == 1 and subsample(rows, 1.0, seed=7) == rows


def test_a_subsample_depends_on_the_rows_not_on_the_order_they_were_read_in():
    rows = keyed(30)
    assert {r[0] for r in subsample(rows, 0.5, seed=3)} == {r[0] for r in subsample(rows[::-1], 0.5, seed=3)}


@pytest.fixture
def classification(project):
    project.task_type, project.labels = "classification", kit.LABELS
    project.save()
    return project


@pytest.fixture
def cls_specs(classification, tiny_model_dir, tiny_student_dir):
    return kit.spec(classification, "teacher", tiny_model_dir), kit.spec(classification, "student", tiny_student_dir)


def request(specs, stages, **kw):
    teacher, student = specs
    return {"student_spec": student.pk, "teacher_spec": teacher.pk, "stages": stages, **kw}


def records_of(project, params, tmp_path):
    config = build_config(project, params, output_dir=tmp_path)
    return [s.records() for s in config.stages], config


def test_a_stage_trains_on_its_extra_snapshots_too_and_its_model_card_names_them_all(
    classification, cls_specs, tmp_path
):
    easy = kit.classification_snapshot(classification, "easy", repeat=2)
    hard = kit.classification_snapshot(classification, "hard", repeat=1, tier="hard")
    params, _ = validate_distillation(
        classification, request(cls_specs, [kit.stage(easy, "all", extra_snapshots=[hard.pk])])
    )
    assert params["stages"][0]["extra_snapshots"] == [hard.pk]
    (records,), config = records_of(classification, params, tmp_path)
    assert Counter(r["tier"] for r in records) == {"easy": 9, "hard": 3}  # train rows of both
    assert config.stages[0].snapshot == f"{easy.content_hash}+{hard.content_hash}"


def test_data_fraction_changes_the_records_deterministically(classification, cls_specs, tmp_path):
    easy = kit.classification_snapshot(classification, "easy", repeat=4, n_val=0)
    hard = kit.classification_snapshot(classification, "hard", repeat=2, n_val=0, tier="hard")
    stages = [kit.stage(easy, "easy"), kit.stage(hard, "hard")]
    full, _ = records_of(classification, validate_distillation(classification, request(cls_specs, stages))[0], tmp_path)
    assert [len(r) for r in full] == [24, 12]

    half = validate_distillation(classification, request(cls_specs, stages, data_fraction=0.5, seed=3))[0]
    got, _ = records_of(classification, half, tmp_path)
    assert [len(r) for r in got] == [12, 6] and got == records_of(classification, half, tmp_path)[0]


def test_bad_data_options_are_refused_naming_the_field(classification, cls_specs):
    snap = kit.classification_snapshot(classification, "easy")
    with pytest.raises(Invalid) as exc:
        validate_distillation(
            classification,
            request(
                cls_specs,
                [kit.stage(snap, extra_snapshots=[snap.pk + 100]), kit.stage(snap, "again", extra_snapshots="x")],
                data_fraction=0,
                order="backwards",
            ),
        )
    assert set(exc.value.errors) == {
        "data_fraction",
        "order",
        "stages.0.extra_snapshots",
        "stages.1.extra_snapshots",
    }
    assert "no snapshot #" in exc.value.errors["stages.0.extra_snapshots"][0]
