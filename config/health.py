"""Health endpoints for load balancers and process supervisors, and the trivial view benchmarks compare to."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse


def ping(request: HttpRequest) -> JsonResponse:
    """No database, no session: the cheapest answer the web process can give (the load test's baseline)."""
    return JsonResponse({"status": "ok"})


def healthz(request: HttpRequest) -> JsonResponse:
    """The web process is up and its database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means unhealthy; the supervisor only needs the status
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for the whole site: JSON in the API's error shape under /api/, the portal's page elsewhere."""
    from config.errors import not_found as answer

    return answer(request, exception)
