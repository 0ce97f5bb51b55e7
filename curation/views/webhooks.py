"""Webhooks on the project settings page (engineers): subscribe, remove, send a test event.

The secret is shown once, on the page right after the endpoint is created (kept in the
session for that one view, as the tokens page does with a new key).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.forms import WebhookForm, add_errors
from curation.models import Role, WebhookEndpoint
from curation.services import webhooks
from curation.services.errors import Invalid
from curation.views.project_settings import NEW_WEBHOOK_SECRET, render_settings


@login_required
@require_POST
def webhook_add(request, slug):
    project = project_for(request.user, slug, Role.ENGINEER)
    form = WebhookForm(request.POST, events=webhooks.EVENTS)
    if form.is_valid():
        try:
            endpoint = webhooks.subscribe(
                project, form.cleaned_data["url"], form.cleaned_data["events"], by=request.user
            )
        except Invalid as exc:
            add_errors(form, exc)
        else:
            request.session[NEW_WEBHOOK_SECRET] = {"id": endpoint.pk, "secret": endpoint.secret}
            return redirect(reverse("project-settings", args=[slug]) + "#webhooks")
    return render_settings(request, project, status=400, webhook_form=form)


@login_required
@require_POST
def webhook_remove(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    endpoint = get_object_or_404(WebhookEndpoint, project=project, pk=pk)
    webhooks.unsubscribe(endpoint)
    messages.success(request, f"Webhook {endpoint.url} removed: it gets nothing more, retries included.")
    return redirect("project-settings", slug=slug)


@login_required
@require_POST
def webhook_test(request, slug, pk):
    project = project_for(request.user, slug, Role.ENGINEER)
    endpoint = get_object_or_404(WebhookEndpoint, project=project, pk=pk)
    webhooks.send_test(endpoint)
    messages.success(request, f"Test event queued for {endpoint.url}; the delivery log below shows the answer.")
    return redirect("project-settings", slug=slug)
