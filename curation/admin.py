"""The admin: every add, change and delete made here of a row that matters writes one audit entry.

``AuditedAdmin`` is the one hook (``save_model`` keeps the row as it was, ``save_related`` records
it as it is, with its many-to-many; ``delete_model`` records it before it goes, and a bulk delete
goes through ``delete_model`` row by row); ``AUDIT_KINDS`` says which kind each model's entries
are. Memberships are the exception that proves the rule: their admin goes through the people
service, which writes their entries (and refuses to remove a project's last engineer).
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction

from curation import models
from curation.services import audit, hygiene, projects

Kind = models.AuditEntry.Kind
User = get_user_model()
AUDIT_KINDS = {
    models.Project: Kind.SETTINGS,
    models.Tier: Kind.SETTINGS,
    models.Stage: Kind.SETTINGS,
    models.ApiToken: Kind.TOKEN,
    models.GoldItem: Kind.GOLD,
    models.Snapshot: Kind.SNAPSHOT,
    models.Job: Kind.JOB,
    models.ModelSpec: Kind.MODEL,
    models.ModelVersion: Kind.MODEL,
    models.EvalReport: Kind.MODEL,
    # Prompts and answers may hold personal data: their text is logged as a digest (audit.state_of).
    models.Prompt: Kind.DATA,
    models.TeacherSample: Kind.DATA,
    models.Example: Kind.DATA,
    # Who may do what outside projects (superuser, staff, active): kept in the admin's log.
    User: Kind.ROLE,
    Group: Kind.ROLE,
}
SECRETS = {"password", "key_hash"}


def _project_of(obj):
    if isinstance(obj, models.Project):
        return obj
    prompt = getattr(obj, "prompt", None)
    return getattr(obj, "project", None) or getattr(prompt, "project", None)


class AuditedAdmin(admin.ModelAdmin):
    """Every add, change and delete writes exactly one audit entry with before and after (none for a
    save that changed nothing)."""

    def audit_state(self, obj) -> dict:
        if isinstance(obj, models.ApiToken):
            return projects.token_state(obj)  # the token service's own account of a token: never its hash
        return audit.state_of(obj, digest=AUDIT_KINDS[self.model] == Kind.DATA, secret=SECRETS)

    def audit_changes(self, before: dict, after: dict) -> tuple[dict, dict]:
        return audit.changed(before, after)

    def _record(self, request, action, obj, before, after):
        kind = AUDIT_KINDS[self.model]
        label = f"{self.model._meta.verbose_name} {obj.pk}" if kind == Kind.DATA else None
        audit.record(
            kind,
            f"admin {action}",
            obj,
            project=_project_of(obj),
            by=request.user,
            before=before,
            after=after,
            label=label,
        )

    def save_model(self, request, obj, form, change):
        form.audit_before = self.audit_state(self.model._default_manager.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj, before = form.instance, getattr(form, "audit_before", None)
        if before is None:
            self._record(request, "add", obj, None, self.audit_state(obj))
            return
        old, new = self.audit_changes(before, self.audit_state(obj))
        if new:
            self._record(request, "change", obj, old, new)

    def delete_model(self, request, obj):
        self._record(request, "delete", obj, self.audit_state(obj), None)
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(models.Project)
class ProjectAdmin(AuditedAdmin):
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
class PromptAdmin(AuditedAdmin):
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
class ExampleAdmin(AuditedAdmin):
    list_display = ["id", "project", "status", "tier", "stage", "grade", "version"]
    list_filter = ["project", "status"]
    raw_id_fields = ["prompt", "sample", "reviewed_by", "leased_by"]


@admin.register(models.Verdict)
class VerdictAdmin(admin.ModelAdmin):
    """Read-only: a verdict is a reviewer's decision, written by reviewing, and is its own audit row."""

    list_display = ["id", "example", "user", "action", "created_at"]
    raw_id_fields = ["example"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Job)
class JobAdmin(AuditedAdmin):
    list_display = ["id", "project", "kind", "status", "progress_done", "progress_total", "created_at"]
    list_filter = ["kind", "status"]


@admin.register(models.ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """No adding here: a token's key is shown once to its owner when issued (the tokens page); a hash
    typed here would be a key nobody holds."""

    list_display = ["name", "user", "prefix", "scope", "expires_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "last_used_at"]

    def has_add_permission(self, request):
        return False

    def audit_changes(self, before, after):
        """The owner stays in both sides: it says on which projects' logs the entry shows (services/audit)."""
        old, new = audit.changed(before, after)
        return ({"owner": before["owner"], **old}, {"owner": after["owner"], **new}) if new else (old, new)


class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    def log_change(self, request, obj, message):
        """The password page saves through its own form (no ``save_model``): its entry says the password
        changed, never the hash."""
        if (getattr(request.resolver_match, "url_name", "") or "").endswith("_password_change"):
            self._record(request, "change", obj, {"password": "hidden"}, {"password": "changed"})
        return super().log_change(request, obj, message)


class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


for model, model_admin in ((User, AuditedUserAdmin), (Group, AuditedGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)

for model in (
    models.Tier,
    models.Stage,
    models.ModelSpec,
    models.TeacherSample,
    models.GoldItem,
    models.Snapshot,
    models.ModelVersion,
    models.EvalReport,
):
    admin.site.register(model, AuditedAdmin)
