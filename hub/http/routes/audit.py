"""Let operators ask why an answer was given: the explanation read back from the turn's stored trace."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from hub.audit.explain import ExplainError, Explanation, explain
from hub.http.deps import OperatorKey, Session
from hub.http.errors import ApiError

router = APIRouter(prefix="/v1", tags=["operator"])


@router.get("/messages/{message_id}/explain", responses={404: {"description": "No such message in this shop."}})
async def explain_message(message_id: uuid.UUID, auth: OperatorKey, session: Session) -> Explanation:
    """The timeline of one answer: prompt and sha256, models, attempts, tools and results, validation, fallback."""
    try:
        return await explain(session, message_id, tenant_id=auth.caller.tenant_id)
    except ExplainError as exc:
        raise ApiError(404, "not_explained", str(exc)) from None
