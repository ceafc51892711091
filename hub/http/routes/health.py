"""Answer liveness and readiness probes and expose Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from hub.http.deps import Resources, resources
from hub.metrics import refresh_queue_gauges

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


@router.get("/healthz")
async def healthz() -> Health:
    """Report that the process is up."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable."}})
async def readyz(res: Annotated[Resources, Depends(resources)]) -> JSONResponse:
    """Report whether the database and Redis answer."""
    checks: dict[str, str] = {}
    try:
        async with res.sessions() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await res.redis.ping()  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", include_in_schema=False)
async def metrics(res: Annotated[Resources, Depends(resources)]) -> Response:
    """Expose this process's Prometheus metrics, with the job queues' depths read from Redis now."""
    await refresh_queue_gauges(res.jobs)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
