"""One prompt-file upload for every endpoint that takes one: its request schema and its reading.

The prompt import, the gold import and the contamination check all take a multipart ``file``
(JSONL or CSV, ``format`` optional); the imports also take ``skip_bad_lines``. A refused file
(``ImportRejected``: too large, empty, binary, not the format) is a 400 on ``file``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from curation.services.datasets import ImportRejected, import_prompts
from curation.services.errors import Invalid

FORMATS = ["jsonl", "csv"]


def upload_request(name: str, *, skip_bad_lines: bool = True) -> dict:
    """The ``request=`` of ``extend_schema`` for an upload (``name``: the schema component's name)."""
    fields = {"file": serializers.FileField(), "format": serializers.ChoiceField(choices=FORMATS, required=False)}
    if skip_bad_lines:
        fields["skip_bad_lines"] = serializers.BooleanField(required=False, default=False)
    return {"multipart/form-data": inline_serializer(name, fields)}


class Upload(NamedTuple):
    file: object
    fmt: str | None
    skip_bad_lines: bool


def read_upload(request) -> Upload:
    """The uploaded file and its options; ``Invalid`` (a 400) naming ``file`` or ``format``."""
    upload = request.FILES.get("file")
    if upload is None:
        raise Invalid({"file": ["Upload the prompt file in the 'file' field."]})
    fmt = request.data.get("format") or None
    if fmt not in (None, *FORMATS):
        raise Invalid({"format": [f"Unknown format {fmt!r}: use jsonl or csv."]})
    skip = str(request.data.get("skip_bad_lines", "")).lower() in ("1", "true", "yes", "on")
    return Upload(upload, fmt, skip)


@contextmanager
def refused_file():
    """A file the import refuses as a whole becomes a 400 on ``file``."""
    try:
        yield
    except ImportRejected as exc:
        raise Invalid({"file": [str(exc)]}) from exc


def import_upload(request, project, **options) -> Response:
    """Import the uploaded file into ``project`` as ``request.user``: 201 with the result, or 400 with
    the result when bad lines stopped it (``options``: ``import_prompts``'s, e.g. ``as_gold``)."""
    upload = read_upload(request)
    with refused_file():
        result = import_prompts(
            project,
            upload.file,
            filename=upload.file.name,
            fmt=upload.fmt,
            skip_bad_lines=upload.skip_bad_lines,
            size=upload.file.size,
            by=request.user,
            **options,
        )
    return Response(result.as_dict(), status=status.HTTP_201_CREATED if result.ok else status.HTTP_400_BAD_REQUEST)
