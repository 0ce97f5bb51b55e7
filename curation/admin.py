from django.contrib import admin

from curation import models
from curation.services import hygiene, projects


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "task_type", "created_at"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Through the memberships service, so every change made here leaves its audit entry."""

    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]

    def save_model(self, request, obj, form, change):
        if change and {"user", "project"} & set(form.changed_data):
            projects.remove_member(models.Membership.objects.get(pk=obj.pk), by=request.user)
        membership = projects.grant_role(obj.project, obj.user, obj.role, by=request.user)
        obj.pk = membership.pk

    def delete_model(self, request, obj):
        projects.remove_member(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("project", "user"):
            projects.remove_member(membership, by=request.user)


@admin.register(models.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, and the admin only shows it."""

    list_display = ["created_at", "actor_name", "project_id", "kind", "action", "target"]
    list_filter = ["kind"]
    search_fields = ["actor_name", "target"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source", "created_at"]
    list_filter = ["project", "source"]
    search_fields = ["text"]
    readonly_fields = ["content_hash", "twin_of"]

    def save_model(self, request, obj, form, change):
        """A prompt added or rewritten here is checked like an imported one (PII, near-duplicates of gold)."""
        super().save_model(request, obj, form, change)
        if not change:
            hygiene.after_prompts_added(obj.project, [obj.pk], by=request.user)
        elif {"text", "messages", "project"} & set(form.changed_data):
            hygiene.after_prompts_changed(obj.project, [obj.pk], by=request.user)


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
