"""Operator CRM tools: find, profile and brief on customers, note and tag, segment, suggest next steps, draft follow-ups."""

from tools.crm.customers import (
    AddNoteInput,
    CustomerCard,
    CustomerNotesResult,
    CustomerTagsResult,
    FindCustomersInput,
    FindCustomersResult,
    TagCustomerInput,
    add_note,
    customer_profile,
    find_customers,
    tag_customer,
)
from tools.crm.followup import DraftFollowupInput, FollowupDraftResult, draft_followup, followup_template
from tools.crm.next_action import NextBestActionResult, next_best_action, suggest_next_action
from tools.crm.profile import CustomerNote, CustomerProfile, CustomerRef, OrderBrief
from tools.crm.segments import (
    SavedSegment,
    SaveSegmentInput,
    SegmentCustomersInput,
    SegmentMember,
    SegmentResult,
    SegmentRule,
    parse_segment,
    save_segment,
    segment_customers,
    segment_filters,
)
from tools.crm.summary import (
    CustomerSummaryResult,
    check_customer_summary,
    customer_segment,
    summarize_customer,
    summary_from_profile,
)
from tools.registry import ToolSpec

CRM_TOOLS: list[ToolSpec] = [
    find_customers,
    customer_profile,
    add_note,
    tag_customer,
    segment_customers,
    save_segment,
    summarize_customer,
    next_best_action,
    draft_followup,
]
"""Operator-only tools over the shop's customers; notes, tags and saved segments are sensitive writes."""

__all__ = [
    "CRM_TOOLS",
    "AddNoteInput",
    "CustomerCard",
    "CustomerNote",
    "CustomerNotesResult",
    "CustomerProfile",
    "CustomerRef",
    "CustomerSummaryResult",
    "CustomerTagsResult",
    "DraftFollowupInput",
    "FindCustomersInput",
    "FindCustomersResult",
    "FollowupDraftResult",
    "NextBestActionResult",
    "OrderBrief",
    "SaveSegmentInput",
    "SavedSegment",
    "SegmentCustomersInput",
    "SegmentMember",
    "SegmentResult",
    "SegmentRule",
    "TagCustomerInput",
    "add_note",
    "check_customer_summary",
    "customer_profile",
    "customer_segment",
    "draft_followup",
    "find_customers",
    "followup_template",
    "next_best_action",
    "parse_segment",
    "save_segment",
    "segment_customers",
    "segment_filters",
    "suggest_next_action",
    "summarize_customer",
    "summary_from_profile",
    "tag_customer",
]
