"""The API tokens page: create (the key is shown once), list, revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.forms import TokenForm, add_errors
from curation.models import ApiToken
from curation.services import projects
from curation.services.errors import ReviewError

NEW_KEY = "new_api_token_key"


@login_required
def token_list(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            scope, days = data["scope"] or "full", data["expires"] or TokenForm.EXPIRY[1][0]
            token, key = projects.issue(request.user, data["name"], scope, days)
        except ReviewError as exc:
            add_errors(form, exc)
        else:
            # Post/redirect/get: the key survives one page view in the session, then it is gone.
            request.session[NEW_KEY] = {"id": token.pk, "key": key}
            return redirect("token-list")
    new = request.session.pop(NEW_KEY, None)
    context = {"form": form, "tokens": ApiToken.objects.filter(user=request.user), "new": new}
    return render(request, "curation/tokens.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    projects.revoke(token)
    messages.success(request, f"Token “{token.name}” is revoked; clients using it now get 401.")
    return redirect("token-list")
