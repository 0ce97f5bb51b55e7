"""Schema post-processing: every operation documents the error statuses the API really
answers, so clients (and schemathesis' status-code conformance check) can rely on the list.

- 400 where the operation takes parameters or a body (a field or parameter refused);
- 404 where the path names an object (missing, or not yours: outsiders get 404 too);
- 401, 403 and 429 everywhere (no token, a role too low, throttled);
- 413 and 415 where there is a body (too large; not JSON or a form).
The body of each is ``{field: [message]}`` or ``{"detail": message}`` (curation/api/errors.py).
"""

ERROR_BODY = {
    "type": "object",
    "additionalProperties": True,
    "description": "{field: [message]} naming what was refused, or {detail: message}.",
}
WHY = {
    "400": "Bad input: the body or a parameter was refused (the field is named).",
    "401": "No valid API token or session.",
    "403": "Your role in this project cannot do this.",
    "404": "No such object, or not one you can see.",
    "413": "The request body is too large.",
    "415": "The body is not JSON (or a form, where the operation takes one).",
    "429": "Too many requests: throttled.",
}


def add_error_responses(result, generator, request, public):
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = operation.get("parameters", []) + item.get("parameters", [])
            has_body = "requestBody" in operation
            codes = ["401", "403", "429"]
            if has_body or any(p.get("in") == "query" for p in parameters):
                codes.append("400")
            if any(p.get("in") == "path" for p in parameters):
                codes.append("404")
            if has_body:
                codes += ["413", "415"]
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": WHY[code], "content": {"application/json": {"schema": ERROR_BODY}}}
                )
    return result
