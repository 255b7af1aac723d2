"""Request bodies read with a limit: never more than the limit is held in memory.

The OAuth routes have no body limit in front of them (Traefik's ForwardAuth
limit covers only the MCP routes), so a body is read as it streams in and the
read stops once the limit is passed: a 1 GB registration costs 64 KiB.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

MAX_FORM_FIELDS = 100


class BodyTooLarge(Exception):
    """The body is larger than the endpoint takes (or says it is)."""


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body if it has at most `limit` bytes; BodyTooLarge as soon as it has more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


async def read_form(request: Request, limit: int) -> FormData:
    """An application/x-www-form-urlencoded body, parsed as Starlette would, within `limit`.

    ValueError for more than MAX_FORM_FIELDS fields.
    """
    body = await read_capped(request, limit)
    pairs: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    )
    return FormData(pairs)
