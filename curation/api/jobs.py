"""Jobs over REST: list and launch (generate, score), read one, cancel.

Every endpoint goes through ``project_for``: outsiders get 404, readers may read,
launching and cancelling need the engineer role (403 below it). Authentication comes
from ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` (session, tokens).
"""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from curation.access import project_for
from curation.models import Job, Role, TeacherSample
from curation.services import jobs as job_service
from curation.services.errors import Invalid
from curation.services.inputs import parse_whole
from curation.services.teacher import launch_generation, launch_scoring
from workers.teacher import DEFAULT_DRAWS, DEFAULT_TOP_K

MAX_LIST = 200


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()
    error_count = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "url",
            "kind",
            "status",
            "model_spec",
            "params",
            "progress",
            "tokens_per_s",
            "eta_s",
            "phase",
            "message",
            "error_count",
            "metrics",
            "cancel_requested",
            "attempts",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_progress(self, job) -> dict:
        return {"done": job.progress_done, "total": job.progress_total, "percent": job.percent}

    def get_url(self, job) -> str:
        return reverse("api-job-detail", args=[job.project.slug, job.pk])

    def get_error_count(self, job) -> int:
        return len(job.errors or [])


class JobDetailSerializer(JobSerializer):
    errors = serializers.ListField(child=serializers.DictField(), help_text="Per-item problems: {item, error}.")
    samples = serializers.SerializerMethodField(help_text="Generate and score jobs: rows written so far.")

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + ["errors", "samples"]

    def get_samples(self, job) -> dict | None:
        if job.kind not in (Job.Kind.GENERATE, Job.Kind.SCORE):
            return None
        return TeacherSample.objects.filter(job=job).aggregate(
            written=Count("id", filter=Q(error="")), failed=Count("id", filter=~Q(error=""))
        )


class JobLaunchSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[Job.Kind.GENERATE, Job.Kind.SCORE])
    model_spec = serializers.IntegerField(help_text="Id of one of the project's teacher model specs.")
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text=(
            "generate: n, temperature, top_p, max_new_tokens, min_new_tokens, stop, seed, top_k (soft-target "
            f"width, default {DEFAULT_TOP_K}), soft_targets (topk | sampled: RS-KD draws instead of the top-k, "
            f"local teachers only), draws (per token, default {DEFAULT_DRAWS}); missing ones come from the spec's "
            "defaults. score: targets (edits, gold), top_k, soft_targets, draws."
        ),
    )
    prompt_filter = serializers.DictField(
        required=False,
        default=dict,
        help_text=("generate only: scope (all | missing), source, metadata_key, metadata_value, ids, limit."),
    )


def _launch(project, user, data):
    if data["kind"] == Job.Kind.GENERATE:
        return launch_generation(
            project, by=user, model_spec=data["model_spec"], params=data["params"], prompt_filter=data["prompt_filter"]
        )
    if data["prompt_filter"]:
        raise Invalid({"prompt_filter": ["score jobs take no prompt filter: they score edits and gold references"]})
    return launch_scoring(project, by=user, model_spec=data["model_spec"], params=data["params"])


SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH)
JOB_EXAMPLE = {
    "id": 42,
    "url": "/api/v1/projects/support/jobs/42",
    "kind": "generate",
    "status": "running",
    "model_spec": 3,
    "params": {
        "task": "generation",
        "generation": {
            "n": 4,
            "temperature": 0.8,
            "top_p": 0.95,
            "max_new_tokens": 256,
            "min_new_tokens": 0,
            "stop": [],
            "seed": 0,
            "top_k": DEFAULT_TOP_K,
            "soft_targets": "topk",
            "draws": DEFAULT_DRAWS,
        },
        "prompt_filter": {"scope": "missing", "source": "imported"},
        "frozen": {"max_prompt_id": 9120, "count": 5000},
    },
    "progress": {"done": 5200, "total": 20000, "percent": 26},
    "tokens_per_s": 1830.5,
    "eta_s": 611.0,
    "phase": "generating",
    "message": "",
    "error_count": 1,
    "metrics": {},
    "cancel_requested": False,
    "attempts": 1,
    "created_by": "alice",
    "created_at": "2026-11-25T13:00:00Z",
    "started_at": "2026-11-25T13:00:02Z",
    "finished_at": None,
}


class JobListView(APIView):
    @extend_schema(
        operation_id="jobs_list",
        parameters=[
            SLUG,
            OpenApiParameter("kind", str, description="Only jobs of this kind."),
            OpenApiParameter("status", str, description="Only jobs in this status."),
            OpenApiParameter("before", int, description="Only jobs with a smaller id (the next page)."),
            OpenApiParameter("limit", int, description=f"At most this many (default 50, at most {MAX_LIST})."),
        ],
        responses={
            200: inline_serializer(
                "JobList",
                {"results": JobSerializer(many=True), "next_before": serializers.IntegerField(allow_null=True)},
            )
        },
        examples=[
            OpenApiExample(
                "Running generation", value={"results": [JOB_EXAMPLE], "next_before": None}, response_only=True
            )
        ],
    )
    def get(self, request, slug):
        project = project_for(request.user, slug)
        qs = project.jobs.select_related("created_by", "project").order_by("-id")
        errors = {}
        for name, choices in (("kind", Job.Kind.values), ("status", Job.Status.values)):
            value = request.query_params.get(name)
            if value and value not in choices:
                errors[name] = [f"unknown {name} {value!r}; choose one of {', '.join(choices)}"]
            elif value:
                qs = qs.filter(**{name: value})
        limit = parse_whole(request.query_params.get("limit", 50), 1, MAX_LIST)
        before = parse_whole(request.query_params.get("before", 0))
        if limit is None or before is None:
            errors["limit"] = [f"limit must be 1 to {MAX_LIST} and before a job id"]
            limit, before = 50, 0
        if errors:
            return Response(errors, status=400)
        if before:
            qs = qs.filter(id__lt=before)
        rows = list(qs[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Response(
            {"results": JobSerializer(rows, many=True).data, "next_before": rows[-1].id if more and rows else None}
        )

    @extend_schema(
        operation_id="jobs_launch",
        parameters=[SLUG],
        request=JobLaunchSerializer,
        responses={
            201: JobDetailSerializer,
            400: inline_serializer(
                "JobLaunchErrors",
                {
                    "kind": serializers.ListField(child=serializers.CharField(), required=False),
                    "model_spec": serializers.ListField(child=serializers.CharField(), required=False),
                    "params": serializers.DictField(required=False),
                    "prompt_filter": serializers.DictField(required=False),
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Generate for prompts the teacher has not answered",
                request_only=True,
                value={
                    "kind": "generate",
                    "model_spec": 3,
                    "params": {"n": 4, "temperature": 0.8, "max_new_tokens": 256, "top_k": DEFAULT_TOP_K},
                    "prompt_filter": {"scope": "missing", "source": "imported", "limit": 5000},
                },
            ),
            OpenApiExample(
                "Score edits and gold references",
                request_only=True,
                value={
                    "kind": "score",
                    "model_spec": 3,
                    "params": {"targets": ["edits", "gold"], "top_k": DEFAULT_TOP_K},
                },
            ),
            OpenApiExample(
                "Launched",
                response_only=True,
                status_codes=["201"],
                value={
                    **JOB_EXAMPLE,
                    "status": "queued",
                    "progress": {"done": 0, "total": 0, "percent": 0},
                    "tokens_per_s": None,
                    "eta_s": None,
                    "phase": "",
                    "error_count": 0,
                    "started_at": None,
                    "errors": [],
                    "samples": {"written": 0, "failed": 0},
                },
            ),
            OpenApiExample(
                "Invalid settings",
                response_only=True,
                status_codes=["400"],
                value={
                    "params": {"top_p": ["must be between 0.0 and 1.0, got 1.5"]},
                    "prompt_filter": {"ids": ["2 ids are not prompts of this project: 998, 999"]},
                },
            ),
        ],
    )
    def post(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        launch = JobLaunchSerializer(data=request.data)
        launch.is_valid(raise_exception=True)
        job = _launch(project, request.user, launch.validated_data)  # an Invalid is the 400 (api/errors)
        job = Job.objects.select_related("project", "created_by").get(pk=job.pk)
        body = JobDetailSerializer(job).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


def _job(project, pk) -> Job:
    return get_object_or_404(Job.objects.select_related("project", "created_by"), project=project, pk=pk)


class JobDetailView(APIView):
    @extend_schema(
        operation_id="jobs_detail",
        parameters=[SLUG],
        responses={200: JobDetailSerializer},
        examples=[
            OpenApiExample(
                "Running generation",
                response_only=True,
                value={
                    **JOB_EXAMPLE,
                    "errors": [
                        {
                            "item": "prompt 7",
                            "error": "prompt is 300 tokens; with 1 more it "
                            "exceeds the model's context of 256 tokens (4 samples)",
                        }
                    ],
                    "samples": {"written": 5196, "failed": 4},
                },
            )
        ],
    )
    def get(self, request, slug, pk):
        project = project_for(request.user, slug)
        return Response(JobDetailSerializer(_job(project, pk)).data)


class JobCancelView(APIView):
    @extend_schema(
        operation_id="jobs_cancel",
        parameters=[SLUG],
        request=None,
        responses={
            200: JobDetailSerializer,
            409: inline_serializer("JobCancelConflict", {"detail": serializers.CharField()}),
        },
        examples=[
            OpenApiExample(
                "Stopping after the current batch",
                response_only=True,
                status_codes=["200"],
                value={
                    **JOB_EXAMPLE,
                    "cancel_requested": True,
                    "errors": [],
                    "samples": {"written": 5200, "failed": 0},
                },
            ),
            OpenApiExample(
                "Already finished",
                response_only=True,
                status_codes=["409"],
                value={"detail": "Job 42 has already succeeded; there is nothing to cancel."},
            ),
        ],
    )
    def post(self, request, slug, pk):
        project = project_for(request.user, slug, Role.ENGINEER)
        job = job_service.request_cancel(_job(project, pk), by=request.user)
        if not job.cancel_requested:
            return Response(
                {"detail": f"Job {job.pk} has already {job.get_status_display().lower()}; there is nothing to cancel."},
                status=409,
            )
        return Response(JobDetailSerializer(_job(project, pk)).data)
