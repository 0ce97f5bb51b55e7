"""The one htmx fragment convention: a page and its fragments come from the same view, and
an htmx request names the fragment it wants with ``?fragment=<name>``.

- The name travels in the request's parameters: in the ``hx-get``/``hx-post`` URL, or
  as ``hx-vals='{"fragment": "<name>"}'`` on the element (or an ancestor: htmx inherits
  it), which htmx adds to the query string of a GET and to the body of a POST.
- Only an htmx request gets a fragment. A plain request of the same URL (a reload, a
  bookmark, a link opened in a new tab) and htmx's history-restore request get the full
  page, so an address never shows a bare fragment.
- A fragment URL differs from its page's URL, so a browser cache never serves one for
  the other; where htmx pushes the address (``hx-push-url``), the view answers with
  ``HX-Push-Url`` set to the page's URL without the ``fragment`` parameter.
- An unknown name gets the full page, like a plain request.
"""

from __future__ import annotations

from django.shortcuts import render

PARAM = "fragment"


def fragment_of(request) -> str | None:
    """The fragment an htmx request asks for, or None for the full page."""
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return None
    name = request.GET.get(PARAM) or (request.POST.get(PARAM) if request.method == "POST" else None)
    return name or None


def page_url(request) -> str:
    """This request's address without the ``fragment`` parameter: the page it belongs to."""
    params = request.GET.copy()
    params.pop(PARAM, None)
    query = params.urlencode()
    return request.path + (f"?{query}" if query else "")


def render_page(request, template, context, *, fragments: dict[str, str], status=200, push=False):
    """Render ``template``, or the fragment of ``fragments`` (name -> template) the request names.

    ``push``: the fragment replaces the page's main content and htmx pushes the address,
    so the response names the page's own URL (``HX-Push-Url``)."""
    name = fragment_of(request)
    if name not in fragments:
        return render(request, template, context, status=status)
    response = render(request, fragments[name], context, status=status)
    if push:
        response["HX-Push-Url"] = page_url(request)
    return response
