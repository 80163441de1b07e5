"""Anonymous GETs of the hottest public reads without DRF's dispatch.

Under load (issue 14, pyinstrument), DRF's dispatch (request wrapping,
authentication, permissions, content negotiation, response finalising)
cost GET /api/v1/scenarios/{id} about a fifth of its time, for routes that
are public, answer JSON only and already build their bodies with orjson.
`fast_get(ApiClass)` routes an anonymous GET straight to the class's own
`get()`; everything else (any other method, and any request that carries
an Authorization header, so an invalid token is still refused with 401
exactly as before) goes through DRF as usual. Errors take DRF's path too:
the project's exception handler turns them into the same envelopes.
Middleware (request id, body size, rate limits, error envelopes) runs for
both. OpenAPI generation sees the DRF class (`cls`, `initkwargs`)."""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework.response import Response

from common.exceptions import exception_handler


def fast_get(api_class):
    drf_view = api_class.as_view()

    def view(request, *args, **kwargs):
        if request.method != "GET" or "HTTP_AUTHORIZATION" in request.META:
            return drf_view(request, *args, **kwargs)
        request.query_params = request.GET
        try:
            response = api_class().get(request, *args, **kwargs)
        except Exception as exc:
            response = exception_handler(exc, {"request": request})
            if response is None:
                raise
        if isinstance(response, Response):
            rendered = JsonResponse(response.data, status=response.status_code, safe=False)
            for name, value in response.items():
                if name.lower() != "content-type":  # an unrendered Response's default, not JSON's
                    rendered[name] = value
            return rendered
        return response

    view.cls = api_class
    view.initkwargs = drf_view.initkwargs
    view.csrf_exempt = True
    view.__name__ = drf_view.__name__
    view.__doc__ = drf_view.__doc__
    return view
