"""Let operators ask why an answer was given: the explanation read back from the turn's stored trace."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from hub.audit.explain import ExplainError, Explanation, explain
from hub.http.deps import OperatorKey, Session
from hub.http.errors import KEY_ERRORS, ApiError, error_responses

router = APIRouter(prefix="/v1", tags=["operator"])


@router.get(
    "/messages/{message_id}/explain",
    responses=error_responses(*KEY_ERRORS, 403, (404, "No such message in this shop."), 422),
)
async def explain_message(message_id: uuid.UUID, auth: OperatorKey, session: Session) -> Explanation:
    """The timeline of one answer: prompt and sha256, models, attempts, tools and results, validation, fallback."""
    try:
        return await explain(session, message_id, tenant_id=auth.caller.tenant_id)
    except ExplainError as exc:
        raise ApiError(404, "not_explained", str(exc)) from None
