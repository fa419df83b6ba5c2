# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""The webhook endpoint as an ASGI application, served by Starlette.

:func:`asgi_app` mounts a :class:`~.webhooks.WebhookEndpoint` at one path,
for POST only. The body is read in chunks and refused as soon as it passes
the endpoint's limit (or at once, when ``Content-Length`` says it will), so
an oversized delivery never sits in memory whole. The synchronous endpoint
runs in Starlette's worker threads, so slow handlers do not stall the event
loop.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .webhooks import WebhookEndpoint, WebhookResponse

__all__ = ["asgi_app"]


def asgi_app(endpoint: WebhookEndpoint, path: str) -> Starlette:
    """A Starlette application answering Stripe's deliveries at ``path``."""

    async def receive(request: Request) -> Response:
        answer = await _handle(endpoint, request)
        return Response(answer.body, answer.status, media_type="application/json")

    return Starlette(routes=[Route(path, receive, methods=["POST"])])


async def _handle(endpoint: WebhookEndpoint, request: Request) -> WebhookResponse:
    limit = endpoint.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return endpoint.too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return endpoint.too_large()
    return await run_in_threadpool(endpoint.handle, bytes(body), request.headers)
