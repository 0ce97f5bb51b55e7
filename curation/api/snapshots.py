"""Snapshots: list, read, create (engineers; built by a job), and download."""

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from curation.api.base import SLUG_PARAMETER, ProjectViewSet
from curation.models import Role, Snapshot
from curation.services import datasets


class SnapshotSerializer(serializers.ModelSerializer):
    stage = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    job = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    job_status = serializers.SerializerMethodField(
        help_text="The build job's status (queued, running, succeeded, ...)."
    )
    downloads = serializers.SerializerMethodField(help_text="Download URLs by file (only once the snapshot is ready).")

    class Meta:
        model = Snapshot
        fields = [
            "id",
            "name",
            "status",
            "message",
            "content_hash",
            "stage",
            "filter",
            "seed",
            "validation_fraction",
            "include_soft_targets",
            "system_prompt",
            "content",
            "one_per_cluster",
            "redact_pii",
            "row_count",
            "train_count",
            "validation_count",
            "excluded",
            "manifest",
            "job",
            "job_status",
            "downloads",
            "created_by",
            "created_at",
            "finished_at",
        ]

    def get_job_status(self, snapshot) -> str | None:
        return snapshot.job.status if snapshot.job_id else None

    def get_downloads(self, snapshot) -> dict[str, str]:
        if snapshot.status != Snapshot.Status.READY:
            return {}
        request = self.context.get("request")
        base = reverse("api-snapshots-download", kwargs={"slug": snapshot.project.slug, "pk": snapshot.pk})
        links = {}
        for split in datasets.SPLITS:
            for fmt in datasets.FORMATS:
                url = f"{base}?format={fmt}&split={split}"
                links[f"{split}.{fmt}"] = request.build_absolute_uri(url) if request else url
        return links


class SnapshotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=datasets.MAX_NAME)
    stage = serializers.CharField(
        required=False, allow_blank=True, max_length=50, help_text="Snapshot this stage's approved examples ..."
    )
    filter = serializers.DictField(required=False, help_text="... or the examples matching this review-queue filter.")
    seed = serializers.IntegerField(
        required=False, default=0, min_value=datasets.SEED_RANGE[0], max_value=datasets.SEED_RANGE[1]
    )
    validation_fraction = serializers.FloatField(
        required=False, default=0.1, min_value=0, max_value=datasets.MAX_VALIDATION_FRACTION
    )
    include_soft_targets = serializers.BooleanField(
        required=False, default=False, help_text="Inline top-k soft targets in the Parquet files."
    )
    system_prompt = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=datasets.MAX_SYSTEM_PROMPT,
        trim_whitespace=False,
        help_text="Chat format: a system turn for prompts without one.",
    )

    one_per_cluster = serializers.BooleanField(
        required=False, default=False, help_text="At most one example per duplicate cluster of the pool."
    )
    redact_pii = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Replace prompts' personal data with typed placeholders (default: the project's setting).",
    )
    content = serializers.ChoiceField(
        choices=Snapshot.Content.choices,
        required=False,
        default=Snapshot.Content.CURATED,
        help_text="curated: the approved examples with the reviewers' edits and labels. raw: every teacher example "
        "whatever its status, with the teacher's own text, label and soft targets (without a stage or filter: all "
        "of them), i.e. what training without review would use.",
    )


class DownloadQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=datasets.FORMATS, required=False, default="jsonl")
    split = serializers.ChoiceField(
        choices=datasets.SPLITS,
        required=False,
        allow_null=True,
        default=None,
        help_text="One split; omit for train then validation (JSONL and chat only).",
    )
    compression = serializers.ChoiceField(
        choices=["gzip", "none"],
        required=False,
        allow_null=True,
        default=None,
        help_text="gzip: the .gz file itself (resumable). Without it, Accept-Encoding: gzip "
        "compresses whole (non-range) responses on the wire.",
    )


class JSONErrorsNegotiation(BaseContentNegotiation):
    """Downloads answer with file bytes; their errors are JSON whatever the client accepts or ?format= says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


SNAPSHOT_EXAMPLE = {
    "id": 3,
    "name": "stage 1, week 48",
    "status": "ready",
    "message": "",
    "content_hash": "98f75478e64019621828433fe7b31ac3e5ba4fb8d11bbab3a20537307bd5b9b3",
    "stage": "stage 1",
    "filter": {},
    "seed": 0,
    "validation_fraction": 0.1,
    "include_soft_targets": False,
    "system_prompt": "",
    "content": "curated",
    "row_count": 1800,
    "train_count": 1622,
    "validation_count": 178,
    "excluded": {"gold_prompt": 3, "gold_duplicate": 1, "not_approved": 212},
    "manifest": {
        "counts": {"rows": 1800, "by_tier": {"easy": 900, "hard": 900}},
        "files": {"train.jsonl": {"bytes": 401233, "sha256": "…"}},
    },
    "job": 12,
    "job_status": "succeeded",
    "downloads": {
        "train.jsonl": "http://testserver/api/v1/projects/triage/snapshots/3/download?format=jsonl&split=train"
    },
    "created_by": "erin",
    "created_at": "2026-11-25T12:00:00Z",
    "finished_at": "2026-11-25T12:00:09Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="Snapshots, newest first",
        parameters=[
            SLUG_PARAMETER,
            OpenApiParameter(
                "content_hash", OpenApiTypes.STR, description="Only the snapshot(s) with this content hash."
            ),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Snapshot.Status.values),
        ],
        examples=[OpenApiExample("Snapshots", response_only=True, value=SNAPSHOT_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="A snapshot: status, counts, exclusions, manifest and download links",
        parameters=[SLUG_PARAMETER],
        examples=[OpenApiExample("A ready snapshot", response_only=True, value=SNAPSHOT_EXAMPLE)],
    ),
    create=extend_schema(
        summary="Snapshot a stage or a filter (engineers); built by a job",
        description="Answers 202 at once with the snapshot in status `building`; poll it until `ready`. "
        "`excluded` then says how many examples were left out and why.",
        parameters=[SLUG_PARAMETER],
        request=SnapshotCreateSerializer,
        responses={202: SnapshotSerializer, 400: OpenApiResponse(description="A field is wrong; the body names it.")},
        examples=[
            OpenApiExample(
                "From a stage",
                request_only=True,
                value={"name": "stage 1, week 48", "stage": "stage 1", "seed": 0, "validation_fraction": 0.1},
            ),
            OpenApiExample(
                "From a filter",
                request_only=True,
                value={
                    "name": "hard, passed checks",
                    "filter": {"tier": "hard", "checks": "passed"},
                    "include_soft_targets": True,
                },
            ),
            OpenApiExample(
                "Building",
                response_only=True,
                status_codes=["202"],
                value={
                    **SNAPSHOT_EXAMPLE,
                    "status": "building",
                    "content_hash": "",
                    "row_count": 0,
                    "excluded": {},
                    "manifest": {},
                    "downloads": {},
                    "job_status": "queued",
                    "finished_at": None,
                },
            ),
        ],
    ),
)
class SnapshotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ProjectViewSet):
    serializer_class = SnapshotSerializer
    write_role = Role.ENGINEER

    @property
    def query_params(self):
        return {
            "list": frozenset({"content_hash", "status"}),
            "download": frozenset({"format", "split", "compression"}),
        }.get(self.action, frozenset())

    def get_queryset(self):
        if self.schema_project():
            return Snapshot.objects.none()
        return Snapshot.objects.filter(project=self.project).select_related("project", "stage", "created_by", "job")

    def filter_queryset(self, queryset):
        params = self.request.query_params
        if params.get("content_hash"):
            queryset = queryset.filter(content_hash=params["content_hash"][:64])
        if params.get("status"):
            if params["status"] not in Snapshot.Status.values:
                raise serializers.ValidationError({"status": [f"Choose one of {', '.join(Snapshot.Status.values)}."]})
            queryset = queryset.filter(status=params["status"])
        return queryset

    def create(self, request, *args, **kwargs):
        incoming = SnapshotCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        snapshot = datasets.start_snapshot(self.project, request.user, **data)  # Invalid: 400 (api/errors)
        snapshot = self.get_queryset().get(pk=snapshot.pk)
        body = SnapshotSerializer(snapshot, context=self.get_serializer_context()).data
        location = reverse("api-snapshots-detail", kwargs={"slug": self.project.slug, "pk": snapshot.pk})
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    @extend_schema(
        summary="Download a snapshot file (streams; ETag, Range and gzip)",
        description=(
            "Streams in constant memory. `ETag` is the content hash plus the representation; `If-None-Match` "
            "answers 304. `Range: bytes=N-` resumes (206, with `If-Range` honoured). `compression=gzip` serves "
            "the .gz file (resumable); otherwise `Accept-Encoding: gzip` compresses non-range responses."
        ),
        parameters=[
            SLUG_PARAMETER,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=list(datasets.FORMATS),
                description="jsonl (prompt/completion), chat (OpenAI messages) or parquet.",
            ),
            OpenApiParameter(
                "split",
                OpenApiTypes.STR,
                enum=list(datasets.SPLITS),
                description="One split; omit for both (JSONL and chat).",
            ),
            OpenApiParameter("compression", OpenApiTypes.STR, enum=["gzip", "none"]),
            OpenApiParameter(
                "Range", OpenApiTypes.STR, OpenApiParameter.HEADER, description="bytes=START- or bytes=START-END"
            ),
            OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={
            (200, "application/jsonl"): OpenApiTypes.BINARY,
            (206, "application/jsonl"): OpenApiTypes.BINARY,
            (200, "application/gzip"): OpenApiTypes.BINARY,
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="Not modified: your copy (If-None-Match) is this one."),
            400: OpenApiResponse(description="A bad parameter, named in the body."),
            404: OpenApiResponse(description="No such snapshot in this project."),
            409: OpenApiResponse(
                description="Not downloadable yet (building or failed), or the file is not on this server."
            ),
            416: OpenApiResponse(description="The range starts past the end."),
        },
        examples=[
            OpenApiExample(
                "A JSONL line",
                response_only=True,
                media_type="application/jsonl",
                value=(
                    '{"prompt":"My invoice shows the wrong VAT number.","completion":"billing",'
                    '"split":"train","stage":"stage 1",'
                    '"tier":"easy","source":"imported","grade":5,"edited":false,"example_id":42}\n'
                ),
            )
        ],
    )
    @action(detail=True, methods=["get"], url_path="download", content_negotiation_class=JSONErrorsNegotiation)
    def download(self, request, *args, **kwargs):
        snapshot = self.get_object()
        query = DownloadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt, split, compression = (
            query.validated_data["format"],
            query.validated_data["split"],
            query.validated_data["compression"],
        )
        has_range = bool(request.headers.get("Range"))
        wire_gzip = (
            compression is None
            and fmt in datasets.LINE_FORMATS
            and not has_range
            and datasets.accepts_gzip(request.headers.get("Accept-Encoding"))
        )
        try:
            rep = datasets.representation(snapshot, fmt, split, gzip=compression == "gzip" or wire_gzip)
        except datasets.Unavailable as exc:
            code = status.HTTP_400_BAD_REQUEST if exc.field in ("split", "compression") else status.HTTP_409_CONFLICT
            return Response({exc.field: [str(exc)]}, status=code)
        return file_response(request, rep, content_encoding=wire_gzip)


def file_response(request, rep: datasets.Representation, content_encoding: bool) -> HttpResponse:
    headers = {
        "ETag": rep.etag,
        "Accept-Ranges": "bytes",
        "Vary": "Accept-Encoding",
        "Cache-Control": "private, max-age=31536000, immutable",
        "Content-Disposition": "attachment; "
        f'filename="{rep.filename}{".gz" if rep.gzip and not content_encoding else ""}"',
    }
    content_type = "application/gzip" if rep.gzip and not content_encoding else datasets.CONTENT_TYPES[rep.fmt]
    if content_encoding:
        headers["Content-Encoding"] = "gzip"
    if datasets.etag_matches(request.headers.get("If-None-Match"), rep.etag):
        return HttpResponse(
            status=304, headers={k: v for k, v in headers.items() if k in ("ETag", "Vary", "Cache-Control")}
        )
    size = rep.size
    wanted = datasets.parse_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if wanted is not None and if_range and if_range.strip() != rep.etag:
        wanted = None  # the client's partial copy is of other bytes: send them all
    if wanted == "unsatisfiable":
        return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    head = request.method == "HEAD"
    if wanted is None:
        start, end, code = 0, size, 200
    else:
        (start, end), code = wanted, 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if head:
        response = HttpResponse(status=code, content_type=content_type, headers=headers)
        response["Content-Length"] = str(end - start)
        return response
    single = rep.single_file
    if code == 200 and single is not None:
        # A whole file goes out through the server's sendfile (wsgi.file_wrapper).
        response = FileResponse(open(single, "rb"), status=200, content_type=content_type)
    else:
        response = StreamingHttpResponse(rep.chunks(start, end), status=code, content_type=content_type)
    for key, value in headers.items():
        response[key] = value
    return response
