"""An oversized import is refused from its Content-Length, before a byte of it is read.

Django reads a multipart body whole (into memory or a temporary file) as soon as anything
touches ``request.POST`` or ``request.FILES``, and the CSRF check touches it before any
view runs. So the import size limit is checked here, on the header, for the two upload
endpoints; ``import_prompts`` checks the size again while it streams (a missing or lying
header).
"""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from curation.services.datasets import upload_too_big

UPLOADS = {"project-import": "web", "api-prompts-import": "api"}
# Room for the multipart boundaries and the small form fields next to the file.
FORM_OVERHEAD = 64 * 1024


class UploadSizeLimit:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST":
            refused = self._refuse(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refuse(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None  # Django answers a malformed header itself
        limit = settings.IMPORT_MAX_BYTES
        if length <= limit + FORM_OVERHEAD:
            return None
        try:
            surface = UPLOADS.get(resolve(request.path_info).url_name)
        except Resolver404:
            return None
        if surface is None:
            return None
        message = upload_too_big(length, limit)
        if surface == "api":
            return JsonResponse({"file": [message]}, status=413)
        return render(request, "curation/partials/import_result.html", {"rejected": message}, status=413)
