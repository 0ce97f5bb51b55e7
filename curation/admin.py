from django.contrib import admin

from curation import models


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "task_type", "created_at"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]


@admin.register(models.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["text"]
    readonly_fields = ["content_hash", "twin_of"]


@admin.register(models.Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "tier", "stage", "grade", "version"]
    list_filter = ["project", "status"]
    raw_id_fields = ["prompt", "sample", "reviewed_by", "leased_by"]


@admin.register(models.Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ["id", "example", "user", "action", "created_at"]
    raw_id_fields = ["example"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "status", "progress_done", "progress_total", "created_at"]
    list_filter = ["kind", "status"]


for model in (
    models.Tier,
    models.Stage,
    models.ModelSpec,
    models.TeacherSample,
    models.GoldItem,
    models.Snapshot,
    models.ModelVersion,
    models.EvalReport,
    models.ApiToken,
):
    admin.site.register(model)
