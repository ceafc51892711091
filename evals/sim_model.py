"""A simulated model for CI evals: competent when the prompt instructs it, wrong where the prompt is silent.

CI has no LLM, yet the gate must tell a better prompt from a worse one. `SimModel` answers the requests the
gateway sends to a `ScriptedLLMServer` the way a capable model would, from what the request carries and from
a reference answer the eval runner primes per case (the deterministic engine's own result on that case):

- a structured prompt gets the primed reference object as JSON, but only if the prompt shows the model the
  output schema; without one it answers in prose (off-schema);
- an agent prompt gets tool calls (the calls the reference made), then a reply composed from the tool
  results it received;
- every use case has one load-bearing instruction (`RULES`): when the rendered prompt lacks it, the sim
  makes the mistake that instruction prevents (invents a price, a discount code, a claim; ignores the
  requested count), the way models do when nobody tells them not to.

So a prompt version that drops grounding or its schema scores worse under the sim, exactly as the gate needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from evals.llm_server import Respond, Step, reply, respond, tool_call
from hub.text import format_money

SCHEMA_TITLES = {
    "CustomerReply": "customer_reply",
    "CrmCustomerSummary": "crm_customer_summary",
    "CrmFollowupDraft": "crm_followup_draft",
    "NextBestAction": "next_best_action",
    "SeoProductCopy": "seo_product_copy",
    "PhotoBrief": "photo_brief",
    "ReplyJudge": "reply_judge",
}
RULES: dict[str, str] = {
    "customer_reply": "only if a tool result",
    "operator_agent": "must come from a tool result",
    "crm_customer_summary": "must appear there",
    "crm_followup_draft": "invent",
    "next_best_action": "Base every claim on a fact",
    "seo_product_copy": "invent",
    "photo_brief": "Follow the operator's request first",
}
"""Use case → a phrase of the instruction that keeps the model honest; matched case-insensitively."""
INVENTED_PRICE = "$9.99"


def _mistake(use_case: str, value: dict[str, Any]) -> dict[str, Any]:
    """What the model gets wrong without its rule: always something the validators or the metrics can see."""
    wrong = dict(value)
    if use_case == "seo_product_copy":
        wrong["description"] = f"{wrong.get('description', '')} Waterproof, award-winning and only {INVENTED_PRICE}."
    elif use_case == "crm_customer_summary":
        wrong["summary"] = f"{wrong.get('summary', '')} They have spent $9,999.00 with us since 2019."[:600]
    elif use_case == "crm_followup_draft":
        wrong["body"] = f"{wrong.get('body', '')}\n\nUse code SAVE50 for 50% off your next order!"
    elif use_case == "next_best_action":
        wrong["action"] = "offer_incentive"
        wrong["reason"] = "They would probably like a discount."
    elif use_case == "photo_brief":
        wrong["count"] = 8 if wrong.get("count") != 8 else 1
        wrong["aspect"] = "16:9" if wrong.get("aspect") != "16:9" else "1:1"
    return wrong


def compose(tool: str, result: dict[str, Any]) -> str:
    """The sim's own wording of one tool result: facts copied exactly, as a grounded model would."""
    if "error" in result:
        return "Sorry, I couldn't look that up just now. Could you give me a bit more detail?"
    if tool == "search_products":
        cards = result.get("products", [])[:3]
        if not cards:
            return "I couldn't find a product matching that. Could you describe it differently?"
        options = "; ".join(f"{c['title']} ({c['sku']}) at {format_money(c['price'], c['currency'])}" for c in cards)
        return f"Here are some options: {options}."
    if tool == "get_product":
        material = f" Material: {result['material']}." if result.get("material") else ""
        return f"The {result['title']} ({result['sku']}) costs {format_money(result['price'], result['currency'])}.{material}"
    if tool == "check_stock":
        if result.get("level") == "out_of_stock":
            return f"The {result['title']} ({result['sku']}) is out of stock right now."
        return f"The {result['title']} ({result['sku']}) is available: {result['quantity']} in stock."
    if tool == "order_status":
        order = result.get("order")
        if not result.get("found") or not order:
            return "I couldn't find an order with those details. Please check the order number and the email."
        return f"Order {order['order_number']} is {order['status'].replace('_', ' ')}."
    if tool == "policy_answer":
        passages = result.get("passages", [])
        if not passages:
            return "I don't have a policy that answers that, so I'll ask a colleague."
        return f"From our {passages[0]['title']} policy: {passages[0]['text']}"
    if tool == "recommend_products":
        recs = result.get("recommendations", [])[:2]
        if not recs:
            return "I don't have a good match to suggest for that one."
        items = "; ".join(
            f"{r['product']['title']} ({r['product']['sku']}) at {format_money(r['product']['price'], r['product']['currency'])}"
            for r in recs
        )
        return f"These go well with it: {items}."
    if tool == "handoff_to_human":
        return f"I've passed this to a colleague, who will reply here. Your reference is {result['reference']}."
    return "Done."


@dataclass
class Primed:
    """The reference answer for the case being run."""

    value: dict[str, Any] | None = None
    """A structured use case's reference object."""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """An agent use case's reference tool calls."""
    text: str = ""
    """An agent's reference reply when it calls no tool (greetings, questions back)."""


class SimModel:
    """Pass `sim.step()` as a ScriptedLLMServer's default; prime it before each case."""

    def __init__(self) -> None:
        self._primed: dict[str, Primed] = {}
        self._current = "unknown"
        self.requests: list[str] = []
        """The use case of every request answered, in order."""

    def prime(self, use_case: str, primed: Primed) -> None:
        """Set the reference answer for the next requests of `use_case` (the case about to run)."""
        self._primed[use_case] = primed
        self._current = use_case

    def step(self) -> Respond:
        return respond(self._answer, with_body=True)

    def _answer(self, body: dict[str, Any]) -> Step:
        messages = body.get("messages", [])
        text = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") in ("system", "user"))
        tools = {t["function"]["name"] for t in body.get("tools", [])}
        if tools:
            use_case = (
                "customer_reply" if "search_products" in tools and "find_customers" not in tools else "operator_agent"
            )
            self.requests.append(use_case)
            return self._agent(use_case, messages, text)
        title = next((t for t in SCHEMA_TITLES if f'"title": "{t}"' in text), None)
        use_case = SCHEMA_TITLES[title] if title else self._current
        self.requests.append(use_case)
        primed = self._primed.get(use_case)
        if primed is None or primed.value is None:
            return reply(f"I have no answer for {use_case} here.")
        if title is None:  # the prompt never showed the schema: a model answers in prose
            summary = "; ".join(f"{k}: {v}" for k, v in primed.value.items() if isinstance(v, str | int | float))
            return reply(f"Sure! Here is what I came up with. {summary}")
        value = primed.value if _follows(use_case, text) else _mistake(use_case, primed.value)
        return reply(json.dumps(value))

    def _agent(self, use_case: str, messages: list[dict[str, Any]], text: str) -> Step:
        primed = self._primed.get(use_case, Primed())
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
        results = [m for m in messages[last_user:] if m.get("role") == "tool"]
        if len(results) < len(primed.calls):
            name, args = primed.calls[len(results)]
            return tool_call(name, args)
        if results:
            calls = [m for m in messages[last_user:] if m.get("role") == "assistant" and m.get("tool_calls")]
            names = [c["function"]["name"] for m in calls for c in m["tool_calls"]]
            answer = " ".join(compose(name, json.loads(m["content"])) for name, m in zip(names, results, strict=False))
        else:
            answer = primed.text or "How can I help?"
        if not _follows(use_case, text):
            answer += f" Today only, everything is {INVENTED_PRICE}!"
        return reply(answer)


def _follows(use_case: str, text: str) -> bool:
    rule = RULES.get(use_case)
    return rule is None or rule.casefold() in text.casefold()
