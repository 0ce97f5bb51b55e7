import math

import pytest
from django.db.models import Q
from django.http import QueryDict

from curation.models import Example, Prompt
from curation.services.errors import Invalid
from curation.services.review import decode_cursor, filtered_examples, keyset_page
from tests.factories import ExampleFactory, PromptFactory, UserFactory


@pytest.fixture
def examples(project):
    tiers = {t.name: t for t in project.tiers.all()}
    rows = []
    for i in range(30):
        rows.append(
            ExampleFactory(
                prompt=PromptFactory(project=project, text=f"ticket {i} about {'refunds' if i % 3 == 0 else 'login'}"),
                difficulty=None if i % 7 == 0 else (i % 10) / 10,
                mean_logprob=math.log(0.05 + i / 40),
                tier=tiers["hard"] if i % 2 else tiers["easy"],
                status="approved" if i % 5 == 0 else "pending",
            )
        )
    return rows


def _ids(qs):
    return sorted(qs.values_list("id", flat=True))


def test_it_filters_by_status_tier_and_text(project, examples):
    qs, _ = filtered_examples(project, QueryDict("status=pending&tier=hard&q=REFUNDS"))
    expected = [e.id for i, e in enumerate(examples) if i % 5 and i % 2 and i % 3 == 0]
    assert _ids(qs) == sorted(expected)


def test_confidence_bounds_are_probabilities(project, examples):
    qs, _ = filtered_examples(project, {"confidence_min": "0.5"})
    assert _ids(qs) == sorted(e.id for e in examples if e.mean_logprob >= math.log(0.5))


def test_it_names_the_bad_parameter(project, examples):
    with pytest.raises(Invalid) as err:
        filtered_examples(project, {"tier": "impossible"})
    assert "tier" in err.value.errors
    with pytest.raises(Invalid) as err:
        filtered_examples(project, {"confidence_min": "lots"})
    assert "confidence_min" in err.value.errors
    with pytest.raises(Invalid) as err:
        filtered_examples(project, {"status": "maybe"})
    assert "status" in err.value.errors


def test_it_never_leaks_another_projects_examples(project, examples):
    from tests.factories import ProjectFactory

    other = ExampleFactory(prompt=PromptFactory(project=ProjectFactory()))
    qs, _ = filtered_examples(project, {})
    assert other.id not in _ids(qs)


def test_the_reviewer_filter_matches_usernames(project, examples):
    alice = UserFactory(username="alice")
    Example.objects.filter(id=examples[3].id).update(reviewed_by=alice)
    qs, _ = filtered_examples(project, {"reviewer": "alice"})
    assert _ids(qs) == [examples[3].id]


@pytest.mark.parametrize("order", ["newest", "oldest", "difficulty", "-difficulty", "confidence", "-confidence"])
def test_keyset_pages_walk_every_row_once_in_order(project, examples, order):
    qs = Example.objects.filter(project=project)
    seen, cursor = [], None
    for _ in range(20):
        page = keyset_page(qs, order, cursor, size=7)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(e.id for e in seen) == sorted(e.id for e in examples)
    assert len({e.id for e in seen}) == len(seen)
    field = {"newest": "id", "oldest": "id"}.get(order) or ("difficulty" if "difficulty" in order else "mean_logprob")
    desc = order in ("newest", "-difficulty", "-confidence")
    values = [getattr(e, field) for e in seen if getattr(e, field) is not None]
    assert values == sorted(values, reverse=desc)
    # Rows without a sort value come after every row with one.
    first_null = next((i for i, e in enumerate(seen) if getattr(e, field) is None), len(seen))
    assert all(getattr(e, field) is None for e in seen[first_null:])


def test_a_page_ending_exactly_on_the_last_sorted_row_still_reaches_the_unsorted_ones(project, examples):
    qs = Example.objects.filter(project=project)
    with_value = qs.filter(difficulty__isnull=False).count()
    page = keyset_page(qs, "difficulty", None, size=with_value)
    assert page.next_cursor is not None
    rest = keyset_page(qs, "difficulty", page.next_cursor, size=100)
    assert len(rest.items) == qs.filter(difficulty__isnull=True).count()
    assert rest.next_cursor is None


def test_a_tampered_cursor_is_a_clear_error():
    with pytest.raises(Invalid) as err:
        decode_cursor("not-a-cursor", "newest")
    assert "after" in err.value.errors


def test_a_status_filter_adds_no_distinct(project, examples):
    qs, _ = filtered_examples(project, QueryDict("status=pending&status=approved"))
    assert not qs.query.distinct


@pytest.mark.parametrize("order", ["newest", "oldest", "difficulty", "-difficulty", "confidence", "-confidence"])
def test_adjacent_steps_through_the_same_order_as_the_pages(project, examples, order):
    from curation.services.review import adjacent

    qs = Example.objects.filter(project=project)
    walk = keyset_page(qs, order, None, size=100).items
    for before, current, after in zip(walk, walk[1:], walk[2:]):
        assert adjacent(qs, order, current, +1) == after
        assert adjacent(qs, order, current, -1) == before
    assert adjacent(qs, order, walk[0], -1) is None
    assert adjacent(qs, order, walk[-1], +1) is None


def test_adjacent_works_from_an_example_that_left_the_filter(project, examples):
    from curation.services.review import adjacent

    qs = Example.objects.filter(project=project, status="pending")
    current = examples[0]  # approved: outside the filter
    assert current.status == "approved"
    following = adjacent(qs, "oldest", current, +1)
    assert following == examples[1]


def test_the_gold_filter_splits_guarded_and_trainable(project, examples):
    from curation.models import GoldItem

    other = PromptFactory(project=project, text="unrelated gold")
    GoldItem.objects.create(project=project, prompt=other, reference="x")
    GoldItem.objects.create(project=project, prompt=examples[3].prompt, reference="y")
    guarded, _ = filtered_examples(project, {"gold": "true"})
    clear, _ = filtered_examples(project, {"gold": "false"})
    assert _ids(guarded) == [examples[3].id]
    assert len(_ids(clear)) == len(examples) - 1


def test_the_text_search_expressions_match_the_trigram_indexes_on_postgresql(project):
    from django.db import connection

    from curation.models import TeacherSample
    from tests.conftest import require_service

    require_service("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")
    lookups = {
        "prompt_text_trgm": Prompt.objects.filter(text__icontains="refund"),
        "prompt_messages_trgm": Prompt.objects.filter(messages__icontains="refund"),
        "sample_text_trgm": TeacherSample.objects.filter(text__icontains="refund"),
        "ex_response_trgm": Example.objects.filter(
            Q(edited=True) | Q(sample__isnull=True), response__icontains="refund"
        ),
    }
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: ask what the planner *can* use
    for index, qs in lookups.items():
        assert index in qs.explain(), index


def test_text_search_reads_unedited_responses_from_their_sample_and_edits_from_the_example(project):
    from tests.review_factories import TeacherSampleFactory

    first = TeacherSampleFactory(prompt=PromptFactory(project=project, text="p1"), text="We will refund you.")
    unedited = ExampleFactory(prompt=first.prompt, sample=first, response=first.text)
    second = TeacherSampleFactory(prompt=PromptFactory(project=project, text="p2"), text="We will refund you.")
    edited = ExampleFactory(prompt=second.prompt, sample=second, response="See the attached invoice.", edited=True)
    written = ExampleFactory(prompt=PromptFactory(project=project, text="p3"), response="A human invoice answer.")
    assert _ids(filtered_examples(project, {"q": "REFUND"})[0]) == [unedited.id]
    assert _ids(filtered_examples(project, {"q": "invoice"})[0]) == sorted([edited.id, written.id])
