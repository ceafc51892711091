"""Let operators read an order with its requests, and work the queues of returns, cancellations and address changes.

The three queues are one implementation (`_add_queue`) with the request kind as its parameter: the same list,
approve and deny under `/v1/returns`, `/v1/cancellations` and `/v1/address-changes`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, create_model

from hub.db import models as m
from hub.db.models import RequestKind, RequestStatus
from hub.http.deps import Authenticated, OperatorKey, Resources, Session, resources
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_JSON_BODY, NO_NUL
from hub.order_requests import RequestError, RequestNotFound, decide, list_requests, request_view
from hub.shop_events.delivery import deliver_soon

router = APIRouter(
    prefix="/v1", tags=["operator"], responses=error_responses(*KEY_ERRORS, 403), max_body_size=MAX_JSON_BODY
)

QUEUES: dict[RequestKind, str] = {
    RequestKind.RETURN: "returns",
    RequestKind.CANCELLATION: "cancellations",
    RequestKind.ADDRESS_CHANGE: "address-changes",
}
"""Each kind's path under `/v1`; its list answers under the same name with `_` for `-` (`{"returns": […]}`)."""
QueueStatus = Literal["requested", "approved", "denied"]
"""The statuses a queue can be filtered by (drafts are the shopper's, never listed)."""
MAX_LISTED = 500
App = Annotated[Resources, Depends(resources)]
RefPath = Annotated[
    str,
    Path(max_length=64, pattern=NO_NUL, description="The request's id or its reference (`RMA-…`, `CXL-…`, `ADR-…`)."),
]


class RequestOut(BaseModel):
    """A shopper's return, cancellation or address change and the operator's decision on it."""

    id: uuid.UUID
    reference: str = Field(description="What the shopper and the operator quote: `RMA-…`, `CXL-…` or `ADR-…`.")
    kind: RequestKind
    status: RequestStatus
    order_number: str
    customer_id: uuid.UUID
    items: list[dict[str, Any]] = Field(description="For a return: `[{sku, title, quantity}]` being sent back.")
    reason: str | None = Field(description="For a return: why (`doesnt_fit`, `damaged`, …).")
    details: str | None = Field(description="The shopper's own words.")
    address: dict[str, Any] | None = Field(description="For an address change: the new address.")
    channel: str
    requested_at: datetime | None
    decided_by: str | None = Field(description="`key:<prefix>`, `operator:<email>` or `cli:<login>`.")
    decided_at: datetime | None
    note: str | None = Field(description="The operator's note with the decision.")


class OrderOut(BaseModel):
    number: str
    status: m.OrderStatus
    customer_email: str
    items: list[dict[str, Any]]
    subtotal: Decimal
    shipping: Decimal
    total: Decimal
    currency: str
    shipping_address: dict[str, Any]
    carrier: str | None
    tracking_number: str | None
    eta: date | None
    placed_at: datetime
    requests: list[RequestOut] = Field(description="Its returns, cancellations and address changes, newest first.")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(
        default=None, max_length=500, description="Why, for the audit trail and the shop's event (optional)."
    )


@router.get("/orders/{number}", responses=error_responses((404, "No such order in this tenant."), 422))
async def get_order(
    auth: OperatorKey,
    session: Session,
    number: Annotated[
        str, Path(max_length=32, pattern=NO_NUL, description="As people write it: `A-10001`, `#a10001`, `A 10001`.")
    ],
) -> OrderOut:
    """Return one of this tenant's orders by number, with its requests."""
    order = await auth.data.orders.find(number)
    if order is None:
        raise ApiError(404, "unknown_order", f"Unknown order {number!r}")
    customer = await auth.data.customers.get(order.customer_id)
    requests = await list_requests(session, auth.caller.tenant_id, order_number=order.number)
    return OrderOut(
        number=order.number,
        status=m.OrderStatus(order.status),
        customer_email=customer.email if customer else "",
        items=order.items,
        subtotal=order.subtotal,
        shipping=order.shipping,
        total=order.total,
        currency=order.currency,
        shipping_address=order.shipping_address or {},
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        eta=order.eta,
        placed_at=order.placed_at,
        requests=[RequestOut.model_validate(request_view(r)) for r in requests if r.order_id == order.id],
    )


def decider(auth: Authenticated) -> str:
    """The audit's name for an operator acting through an API key."""
    return f"key:{auth.caller.key_prefix}"


def _add_queue(kind: RequestKind, path: str) -> None:
    """Add `GET /v1/{path}` and `POST /v1/{path}/{ref}/approve|deny` for requests of `kind`."""
    noun = kind.value.replace("_", " ")
    key = path.replace("-", "_")
    fields: dict[str, Any] = {key: (list[RequestOut], ...)}
    listing = create_model(
        f"{kind.value.title().replace('_', '')}List", __doc__=f"This shop's {noun} requests.", **fields
    )

    async def list_queue(
        auth: OperatorKey,
        session: Session,
        status: Annotated[QueueStatus | None, Query(description="Only requests in this status.")] = None,
        order: Annotated[
            str | None, Query(max_length=32, pattern=NO_NUL, description="Only this order's (any spelling).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 100,
    ) -> dict[str, Any]:
        rows = await list_requests(
            session,
            auth.caller.tenant_id,
            kind=kind,
            status=RequestStatus(status) if status else None,
            order_number=order,
            limit=limit,
        )
        return {key: [request_view(r) for r in rows]}

    async def decide_one(
        auth: Authenticated, session: Session, res: Resources, ref: str, body: DecisionIn | None, *, approve: bool
    ) -> RequestOut:
        try:
            decided = await decide(
                session,
                auth.caller.tenant_id,
                ref,
                approve=approve,
                by=decider(auth),
                note=body.note if body else None,
                kind=kind,
            )
        except RequestNotFound as exc:
            raise ApiError(404, "unknown_request", str(exc)) from None
        except RequestError as exc:
            raise ApiError(409, "already_decided", str(exc)) from None
        view = RequestOut.model_validate(request_view(decided.request))
        await session.commit()
        await deliver_soon(res.jobs, auth.caller.tenant_id, [decided.event_id])
        return view

    async def approve_one(
        auth: OperatorKey, session: Session, res: App, ref: RefPath, body: DecisionIn | None = None
    ) -> RequestOut:
        return await decide_one(auth, session, res, ref, body, approve=True)

    async def deny_one(
        auth: OperatorKey, session: Session, res: App, ref: RefPath, body: DecisionIn | None = None
    ) -> RequestOut:
        return await decide_one(auth, session, res, ref, body, approve=False)

    decision_errors = error_responses(
        *BODY_ERRORS,
        (404, f"No such {noun} request in this shop."),
        (409, "It was decided already (by whom: see the message)."),
    )
    router.add_api_route(
        f"/{path}",
        list_queue,
        methods=["GET"],
        response_model=listing,
        responses=error_responses(422),
        summary=f"List {noun} requests",
        description=f"This shop's {noun} requests: the open queue (`status=requested`) oldest first, otherwise "
        "newest first.",
        operation_id=f"list_{key}",
    )
    router.add_api_route(
        f"/{path}/{{ref}}/approve",
        approve_one,
        methods=["POST"],
        responses=decision_errors,
        summary=f"Approve a {noun} request",
        description=f"Approve an open {noun} request; the order follows and the shop's systems hear of it.",
        operation_id=f"approve_{kind.value}",
    )
    router.add_api_route(
        f"/{path}/{{ref}}/deny",
        deny_one,
        methods=["POST"],
        responses=decision_errors,
        summary=f"Deny a {noun} request",
        description=f"Deny an open {noun} request; the order's status goes back to what it was.",
        operation_id=f"deny_{kind.value}",
    )


for _kind, _path in QUEUES.items():
    _add_queue(_kind, _path)
