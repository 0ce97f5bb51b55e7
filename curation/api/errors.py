"""API errors are JSON naming what was wrong, including the ones Django raises before DRF sees the body.

A service's ``Invalid`` (``curation.services.errors``) is a 400 whose body is its errors as they
are, ``{field: [messages]}``: the one adapter from service errors to the API.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from curation.services.errors import Invalid


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def refused(invalid: Invalid) -> exceptions.ValidationError:
    """The 400 an ``Invalid`` becomes."""
    return exceptions.ValidationError(invalid.errors, code=invalid.code)


def exception_handler(exc, context):
    if isinstance(exc, Invalid):
        exc = refused(exc)
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = PayloadTooLarge(
            {"body": [f"The request body is larger than {limit:,} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)."]}
        )
    return drf_exception_handler(exc, context)
