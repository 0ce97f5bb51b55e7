import io
import json

import pytest
from django.urls import reverse

from curation.models import GoldItem, Prompt
from curation.services.datasets import ImportRejected, import_prompts


def run(project, data: bytes, filename="prompts.jsonl", **kwargs):
    return import_prompts(project, io.BytesIO(data), filename=filename, size=len(data), **kwargs)


def jsonl(*objs):
    return "\n".join(json.dumps(o) for o in objs).encode()


def test_it_imports_text_and_chat_prompts_with_metadata(project):
    result = run(
        project,
        jsonl(
            {"prompt": "What is 2+2?", "metadata": {"lang": "en"}},
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
        ),
    )
    assert result.ok and result.created == 2
    text = Prompt.objects.get(text="What is 2+2?")
    assert text.metadata == {"lang": "en"}
    chat = Prompt.objects.exclude(messages=None).get()
    assert chat.messages[1]["content"] == "Hi"


def test_it_skips_and_counts_duplicates_after_normalisation(project):
    run(project, jsonl({"prompt": "Hello   World"}))
    result = run(project, jsonl({"prompt": "hello world"}, {"prompt": "HELLO WORLD "}, {"prompt": "new one"}))
    assert result.created == 1
    assert result.duplicates == 2
    assert Prompt.objects.filter(project=project).count() == 2


def test_reference_and_label_create_gold_candidates(project):
    project.labels = ["yes", "no"]
    project.save()
    result = run(project, jsonl({"prompt": "a?", "reference": "A."}, {"prompt": "b?", "label": "no"}))
    assert result.gold_candidates == 2
    assert set(GoldItem.objects.values_list("reference", "label", "confirmed")) == {
        ("A.", "", False),
        ("", "no", False),
    }


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"not json", "invalid JSON"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"text"', "expected a JSON object, got a string"),
        (b'{"text": "x"}', "missing field 'prompt'"),
        (b'{"prompt": 5}', "'prompt' must be a string"),
        (b'{"prompt": "  "}', "'prompt' is empty"),
        (b'{"prompt": "x", "metadata": [1]}', "'metadata' must be an object"),
        (b'{"messages": "hi"}', "'messages' must be a non-empty array"),
        (b'{"messages": [{"role": "robot", "content": "x"}]}', "messages[0].role must be one of"),
        (b'{"prompt": "x", "messages": [{"role": "user", "content": "y"}]}', "not both"),
        (b'{"prompt": "caf\xe9"}', "not valid UTF-8"),
    ],
)
def test_a_bad_line_is_reported_with_its_number_and_nothing_is_imported(project, line, reason):
    data = jsonl({"prompt": "good one"}) + b"\n" + line + b"\n" + jsonl({"prompt": "good two"})
    result = run(project, data)
    assert not result.ok
    assert [(e.line, reason in e.reason) for e in result.errors] == [(2, True)], result.errors
    assert Prompt.objects.count() == 0


def test_skip_bad_lines_imports_the_rest_and_lists_the_skipped(project):
    data = jsonl({"prompt": "one"}) + b"\n{oops\n" + jsonl({"prompt": "two"}) + b"\n[]\n"
    result = run(project, data, skip_bad_lines=True)
    assert result.ok and result.created == 2
    assert [e.line for e in result.errors] == [2, 4]


def test_every_bad_line_is_reported(project):
    data = b"\n".join([b"{bad"] * 5 + [jsonl({"prompt": "ok"})])
    result = run(project, data)
    assert result.error_count == 5 and [e.line for e in result.errors] == [1, 2, 3, 4, 5]


def test_a_prompt_over_the_length_limit_is_refused(project, settings):
    settings.IMPORT_MAX_PROMPT_CHARS = 10
    result = run(project, jsonl({"prompt": "x" * 11}))
    assert "11 characters; the limit is 10" in result.errors[0].reason


def test_a_file_over_the_size_limit_is_refused_with_a_clear_message(project, settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ImportRejected, match=r"limit is 0\.0 MB"):
        run(project, jsonl(*[{"prompt": f"p{i}"} for i in range(50)]))
    with pytest.raises(ImportRejected, match="IMPORT_MAX_BYTES"):
        data = jsonl(*[{"prompt": f"p{i}"} for i in range(50)])
        import_prompts(project, io.BytesIO(data), filename="x.jsonl")  # size unknown up front
    assert Prompt.objects.count() == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty"),
        (b"\n\n  \n", "no prompts"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        ('{"prompt": "x"}'.encode("utf-16"), "UTF-16"),
    ],
)
def test_unusable_files_get_a_clear_message(project, data, message):
    with pytest.raises(ImportRejected, match=message):
        run(project, data)


def test_a_label_outside_the_label_set_is_a_bad_line(project):
    project.labels = ["billing", "other"]
    project.save()
    result = run(project, jsonl({"prompt": "x", "label": "weather"}))
    assert "not one of this project's labels (billing, other)" in result.errors[0].reason


def test_csv_with_prompt_reference_and_extra_columns(project):
    data = b'prompt,reference,lang\n"Multi\nline, with comma",Ref,en\nplain,,de\n'
    result = run(project, data, filename="p.csv")
    assert result.ok and result.created == 2, result.errors
    multi = Prompt.objects.get(text="Multi\nline, with comma")
    assert multi.metadata == {"lang": "en"}
    assert GoldItem.objects.get().reference == "Ref"


def test_csv_bad_rows_report_the_line_they_start_on(project):
    data = b'prompt,lang\n"two\nlines",en\n"",de\nok,fr\n'
    result = run(project, data, filename="p.csv")
    assert [(e.line, e.reason) for e in result.errors] == [(4, "'prompt' is empty")]


def test_csv_without_a_prompt_column_is_refused_naming_the_columns(project):
    with pytest.raises(ImportRejected, match="no 'prompt' column \\(found: 'question', 'lang'\\)"):
        run(project, b"question,lang\nx,en\n", filename="p.csv")


def test_the_import_page_shows_the_summary(project, client_as):
    client = client_as("engineer")
    upload = io.BytesIO(jsonl({"prompt": "a"}, {"prompt": "A"}))
    upload.name = "p.jsonl"
    page = client.post(reverse("project-import", args=[project.slug]), {"file": upload})
    assert page.status_code == 200
    assert "Imported 1 prompt" in page.content.decode()
    assert "1 duplicate skipped" in page.content.decode()


def test_the_import_page_lists_bad_lines_escaped(project, client_as):
    client = client_as("engineer")
    upload = io.BytesIO(b'{"prompt": "ok"}\n<script>alert(1)</script>\n')
    upload.name = "p.jsonl"
    page = client.post(reverse("project-import", args=[project.slug]), {"file": upload})
    assert page.status_code == 400
    body = page.content.decode()
    assert "Nothing was imported" in body and "invalid JSON" in body
    assert "<script>alert(1)" not in body
    assert Prompt.objects.count() == 0


def test_the_api_imports_and_reports(project, client_as):
    client = client_as("engineer")
    upload = io.BytesIO(jsonl({"prompt": "a"}, {"prompt": "b"}))
    upload.name = "p.jsonl"
    response = client.post(reverse("api-prompts-import", args=[project.slug]), {"file": upload})
    assert response.status_code == 201
    assert response.json()["created"] == 2


def test_the_api_refuses_a_bad_file_with_line_numbers(project, client_as):
    client = client_as("engineer")
    upload = io.BytesIO(b'{"prompt": "a"}\n{"nope": 1}\n')
    upload.name = "p.jsonl"
    response = client.post(reverse("api-prompts-import", args=[project.slug]), {"file": upload})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 2, "reason": "missing field 'prompt' (or 'messages' for a chat prompt)"}
    ]
    assert Prompt.objects.count() == 0


def test_the_api_explains_a_missing_file(project, client_as):
    response = client_as("engineer").post(reverse("api-prompts-import", args=[project.slug]), {})
    assert response.status_code == 400 and "file" in response.json()
