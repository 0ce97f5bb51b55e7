"""Distillation past one machine over the API: a job's run config to download, and registering
what a run of it outside Celery (``python -m workers.distill run``) wrote on the shared store."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.training import ERRORS, TrainingJobSerializer, _job_response
from curation.models import Job, Role
from curation.services.training import register_external_run, run_config_archive

SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The project's slug.")
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="A distillation job.")


def distill_job(request, slug, pk) -> Job:
    project = project_for(request.user, slug, Role.ENGINEER)
    return get_object_or_404(Job, project=project, pk=pk, kind=Job.Kind.DISTILL)


def run_config_response(job: Job) -> FileResponse:
    archive = run_config_archive(job)
    name = f"{job.project.slug}-job{job.pk}-run-config.tar.gz"
    return FileResponse(open(archive, "rb"), as_attachment=True, filename=name, content_type="application/gzip")


class RunConfigView(APIView):
    """The job's exact config with its records, soft targets and student, to train outside Celery (engineers)."""

    @extend_schema(
        operation_id="distillations_run_config",
        parameters=[SLUG, ID],
        responses={(200, "application/gzip"): OpenApiResponse(description="run-config-job<id>/ as .tar.gz")},
    )
    def get(self, request, slug, pk):
        return run_config_response(distill_job(request, slug, pk))


class RegisterRunView(APIView):
    """Register the versions and curves a run outside Celery wrote (engineers)."""

    @extend_schema(
        operation_id="distillations_register_run",
        parameters=[SLUG, ID],
        request=inline_serializer(
            "RegisterRunRequest",
            {"run_dir": serializers.CharField(help_text="The run's output directory, under ARTIFACT_DIR.")},
        ),
        responses={200: TrainingJobSerializer, 400: ERRORS},
        examples=[OpenApiExample("A run on the shared store", request_only=True, value={"run_dir": "/data/runs/j12"})],
    )
    def post(self, request, slug, pk):
        job = distill_job(request, slug, pk)
        run_dir = request.data.get("run_dir") if isinstance(request.data, dict) else None
        return _job_response(
            request,
            lambda: register_external_run(job, str(run_dir or ""), by=request.user, within_store=True),
            status.HTTP_200_OK,
        )
