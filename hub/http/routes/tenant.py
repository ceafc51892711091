"""Let operators read their own tenant, and admins change its settings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.audit.events import record
from hub.db import models as m
from hub.http.deps import AdminKey, OperatorKey, Resources, Session, resources
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_JSON_BODY
from hub.prompting.registry import PromptError
from hub.tenancy.config import TenantConfig
from hub.tenancy.pins import PinRefused, approve_pins

router = APIRouter(
    prefix="/v1", tags=["operator"], responses=error_responses(*KEY_ERRORS, 403), max_body_size=MAX_JSON_BODY
)


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    settings: dict[str, Any]
    role: m.ApiKeyRole


@router.get("/tenant")
async def get_tenant(auth: OperatorKey, session: Session) -> TenantOut:
    """Return the tenant the operator key belongs to, with its settings."""
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    return TenantOut(id=tenant.id, slug=tenant.slug, name=tenant.name, settings=tenant.settings, role=auth.caller.role)


class TenantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: TenantConfig = Field(
        description='The sections to replace, e.g. `{"brand": {...}, "allowed_origins": [...]}`; sections left out '
        "are kept as they are."
    )
    force_pins: str | None = Field(
        default=None,
        min_length=3,
        max_length=500,
        description="Why to pin `settings.prompt_pins` without a passing eval run of the whole golden set for this "
        "tenant (as `hub prompts pin --force REASON`); kept in the audit trail.",
    )


@router.patch(
    "/tenant",
    responses=error_responses(
        *BODY_ERRORS,
        (409, "A changed prompt pin has no passing eval run of its golden set for this tenant (see `force_pins`)."),
        (422, "A setting failed validation, or a pin names no released version."),
    ),
)
async def patch_tenant(
    auth: AdminKey, session: Session, body: TenantPatch, res: Annotated[Resources, Depends(resources)]
) -> TenantOut:
    """Replace sections of the tenant's settings; the result is validated as a whole, and a changed prompt pin
    needs what `hub prompts pin` needs: a passing eval run of the whole golden set, or `force_pins`."""
    tenant = await session.get(m.Tenant, auth.caller.tenant_id)
    assert tenant is not None
    try:
        merged = TenantConfig.model_validate({**tenant.settings, **_sections(body.settings)})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "settings", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    try:
        await approve_pins(
            session,
            tenant,
            merged.prompt_pins,
            current=(tenant.settings or {}).get("prompt_pins") or {},
            prompts=res.gateway.prompts,
            models=res.gateway.config,
            actor=f"key:{auth.caller.key_prefix}",
            force=body.force_pins,
        )
    except PromptError as exc:
        raise ApiError(422, "unknown_prompt_version", str(exc)) from None
    except PinRefused as exc:
        raise ApiError(409, "pin_needs_eval", f'{exc}, or send "force_pins": REASON (audited)') from None
    tenant.settings = merged.to_column()
    await record(
        session,
        actor=f"key:{auth.caller.key_prefix}",
        action="tenant.settings_changed",
        tenant_id=tenant.id,
        subject=tenant.slug,
        data={"sections": sorted(body.settings.model_fields_set)},
    )
    await session.commit()
    return TenantOut(id=tenant.id, slug=tenant.slug, name=tenant.name, settings=tenant.settings, role=auth.caller.role)


def _sections(settings: TenantConfig) -> dict[str, Any]:
    """The sections the request named, as they are stored; a section left out is not reset to its default."""
    return settings.model_dump(mode="json", include=settings.model_fields_set)
