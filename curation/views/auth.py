"""Sign-in: the login page (local accounts and/or single sign-on) and the page a refused SSO user sees."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponseNotAllowed
from django.shortcuts import render

from curation.sso import REFUSED


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            return HttpResponseNotAllowed(["GET"], "Local accounts are switched off; sign in through single sign-on.")
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "local_login": settings.LOCAL_LOGIN,
            "sso_enabled": settings.SSO_ENABLED,
            "sso_label": getattr(settings, "OIDC_LABEL", ""),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        }


def sso_refused(request):
    reason = request.session.pop(REFUSED, None) or "Your identity provider did not let you sign in here."
    return render(request, "registration/sso_refused.html", {"reason": reason}, status=403)
