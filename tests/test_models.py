import pytest

from curation.models import Verdict
from curation.normalize import content_hash
from tests.factories import ExampleFactory


def test_verdicts_are_append_only(db):
    example = ExampleFactory()
    verdict = Verdict.objects.create(project=example.project, example=example, action="approve")
    verdict.comment = "changed"
    with pytest.raises(ValueError, match="append-only"):
        verdict.save()
    with pytest.raises(ValueError, match="append-only"):
        verdict.delete()


def test_normalisation_folds_case_space_and_unicode_forms():
    assert content_hash("  Caf\u00e9   AU lait ") == content_hash("cafe\u0301 au LAIT")
    assert content_hash("a b") != content_hash("ab")
    chat = [{"role": "user", "content": "Hi  there"}]
    assert content_hash("", chat) == content_hash("", [{"role": "User", "content": "hi there"}])
    assert content_hash("", chat) != content_hash("user: hi there")
