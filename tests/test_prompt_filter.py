"""The prompt filter of generation jobs: parsing, matching, and freezing at launch."""

import pytest

from curation.models import GoldItem, Job
from curation.services.errors import Invalid
from curation.services.teacher import (
    PromptFilter,
    count_matching,
    freeze,
    frozen_prompts,
    matching_prompts,
    parse_filter,
    parse_ids,
)
from tests.genkit import add_prompts


def texts(qs):
    return [p.text for p in qs]


def test_ids_parse_from_lists_and_ranges():
    assert parse_ids("4, 8 15-17;4") == [4, 8, 15, 16, 17]
    assert parse_ids([3, 1, 3]) == [3, 1]
    for bad in ("4,x", "9-3", [0], ["1"], True):
        with pytest.raises(ValueError):
            parse_ids(bad)


def test_metadata_matches_text_and_json_values_even_for_keys_named_like_lookups(project):
    add_prompts(project, ["a"], metadata={"contains": "x", "urgent": True, "tries": 3})
    add_prompts(project, ["b"], metadata={"contains": "y", "tries": "3"})
    add_prompts(project, ["c"], metadata={})

    def match(**f):
        return texts(matching_prompts(project, parse_filter(f, project), None))

    assert match(metadata_key="contains", metadata_value="x") == ["a"]
    assert match(metadata_key="contains") == ["a", "b"]
    assert match(metadata_key="urgent", metadata_value="true") == ["a"]
    assert match(metadata_key="tries", metadata_value="3") == ["a", "b"]
    assert match(metadata_key="tries", metadata_value=3) == ["a"]


def test_source_and_ids_narrow_and_gold_prompts_never_match(project):
    a, b, c = add_prompts(project, ["a", "b", "c"], source="synthetic")
    add_prompts(project, ["d"])
    GoldItem.objects.create(project=project, prompt=b, reference="ref")
    assert texts(matching_prompts(project, parse_filter({"source": "synthetic"}, project), None)) == ["a", "c"]
    assert texts(matching_prompts(project, parse_filter({"ids": f"{a.id}-{c.id}"}, project), None)) == ["a", "c"]


def test_bad_filters_name_every_bad_field(project):
    with pytest.raises(Invalid) as info:
        parse_filter({"scope": "few", "source": "web", "ids": "x", "limit": "-1", "metadata_key": 'a"b'}, project)
    assert set(info.value.errors) == {"scope", "source", "ids", "limit", "metadata_key"}


def test_a_job_sees_the_prompts_of_its_launch_even_after_more_are_imported(project):
    add_prompts(project, ["a", "b", "c"])
    pf = PromptFilter(limit=2)
    frozen = freeze(project, pf, None)
    assert frozen["count"] == 2
    job = Job.objects.create(project=project, kind="generate", params={"frozen": frozen, "teacher": {"spec_id": None}})
    add_prompts(project, ["d"])
    assert count_matching(project, pf, None) == 2
    assert texts(frozen_prompts(job, pf)) == ["a", "b"]
    everything = Job.objects.create(
        project=project, kind="generate", params={"frozen": freeze(project, PromptFilter(), None), "teacher": {}}
    )
    add_prompts(project, ["e"])
    assert texts(frozen_prompts(everything, PromptFilter())) == ["a", "b", "c", "d"]
