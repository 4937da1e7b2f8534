"""Error pages for people: readable, in the reader's language, with the hotline; no traces."""

from __future__ import annotations

import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from esimcare.errors import DomainError, NotFoundError
from esimcare.operators.policy import Policy
from esimcare.portal import texts
from esimcare.portal.deps import get_ctx, language_of
from esimcare.portal.i18n import DEFAULT_LANGUAGE, catalog
from esimcare.portal.rendering import render

log = structlog.get_logger()


def operator_of_path(request: Request) -> Policy | None:
    """The operator a page belongs to (/mts/...), for its hotline in the footer."""
    first = request.url.path.strip("/").split("/", 1)[0]
    return get_ctx(request).policies.get(first)


def _error_codes(cls: type[DomainError] = DomainError) -> dict[str, str]:
    """Title -> code of every domain error class, so the page can word it for the reader."""
    found = {cls.title: cls.code}
    for subclass in cls.__subclasses__():
        found.update(_error_codes(subclass))
    return found


def _readable(language: str, status: int, title: str, detail: str) -> tuple[str, str]:
    """A domain error in our own words; other English texts only where the catalog knows them."""
    known = catalog(language)
    generic = texts.STATUS_TITLE.get(status, texts.GENERIC_TITLE)
    # A path that names nothing is "not found" whoever raised it (the router says "Not Found").
    code = NotFoundError.code if status == 404 else _error_codes().get(title)
    if code in texts.ERROR:
        return generic, texts.ERROR[code]
    if language == DEFAULT_LANGUAGE:
        return (title or generic), ("" if detail == title else detail)
    heading = title if title in known else generic
    explanation = detail if detail in known and detail != title else ""
    return heading, explanation


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    if status >= 500:
        log.error("portal.error_page", status=status, path=request.url.path)
    heading, explanation = _readable(language_of(request), status, title, detail)
    return render(request, "error.html", policy=operator_of_path(request), status=status,
                  heading=heading, explanation=explanation)  # fmt: skip


def invalid_request_page(request: Request, error: RequestValidationError) -> Response:
    """A path that names nothing (/mts/esims/abc, an id beyond any row) is a page not found;
    a form that does not fit is invalid input."""
    if any(tuple(item.get("loc", ()))[:1] == ("path",) for item in error.errors()):
        return error_page(request, 404, NotFoundError.title, "")
    return error_page(request, 422, "Invalid input", "Please check the form and try again.")


def unexpected_error_page(request: Request) -> Response:
    """Last resort for a bug: a calm page with the hotline (the trace goes to the log only)."""
    return error_page(request, 500, texts.GENERIC_TITLE, texts.GENERIC_DETAIL)
