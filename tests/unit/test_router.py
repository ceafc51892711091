"""The deterministic engine places shoppers' messages, as they really write them, in the right intent."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from agents import intent_vectors
from agents.router import (
    EXAMPLES_PATH,
    FALLBACK_INTENT,
    INTENTS,
    Example,
    IntentRouter,
    load_examples,
    load_holdout_examples,
    load_training_examples,
)
from hub.prompting.outputs import Intent

HOLDOUT_PATH = EXAMPLES_PATH.with_name("intent_holdout.jsonl")

# Written for these tests, in shoppers' own styles (typos, slang, no punctuation, capitals, several sentences);
# none of them is in the training file (a test below checks).
HARD_CASES: dict[Intent, list[str]] = {
    Intent.PRODUCT_SEARCH: [
        "HEY do u have any BLACK PUFFERS in a medium under 200",
        "Hi! Looking for linen trousers for summer. Ideally stone or ecru, waist 30. Thanks",
        "need a new bag for uni any backpacks",
    ],
    Intent.PRODUCT_QUESTION: [
        "does the merino henly itch",
        "Is the waxed field jacket ok in heavy rain or just drizzle?",
        "how many litres is the daypack",
    ],
    Intent.STOCK_CHECK: [
        "is the chelsea boot in 42 back in stock yet??",
        "when r u restocking the sage hoodie in M",
        "do you still have any XS left in the slip dress",
    ],
    Intent.RECOMMENDATION: [
        "what should i get my boyfriend for his birthday hes into hiking",
        "which jacket would you pick for a rainy city break",
        "what goes with olive cargo pants",
    ],
    Intent.ORDER_STATUS: [
        "hiya wheres my parcel?? order A-10423",
        "its been 9 days and my order still hasnt turned up",
        "Ordered boots last week. Tracking hasnt updated since monday. Is it lost?",
    ],
    Intent.ORDER_CHANGE: [
        "can u change the adress on my order to 5 Park Road pls",
        "I need to cancel order A-10444 asap!!",
        "can I swap the size on my order to a large before it ships",
    ],
    Intent.RETURNS_REFUNDS: [
        "the zip on my hoodie broke after a week, can I get a replacement",
        "how do i send back jeans that dont fit",
        "still waiting on my refund for the boots I sent back",
    ],
    Intent.SHIPPING_DELIVERY: [
        "do u ship to australia and how long does it take",
        "is there free delivery over a certain amount",
        "will I pay customs if I order from the UK",
    ],
    Intent.PAYMENT: [
        "my card keeps getting declined at checkout wtf",
        "discount code SAVE10 isnt working",
        "I was charged twice for one order",
    ],
    Intent.ACCOUNT: [
        "i forgot my password and the reset email never came",
        "cant log in on the app",
        "can I change the email on my account to my new one",
    ],
    Intent.INVOICE: [
        "I need a VAT invoice for order A-10431 for work",
        "can you resend my receipt pls",
        "please put my company name on the invoice",
    ],
    Intent.SUBSCRIPTION: [
        "pls stop sending me marketing emails",
        "unsubscribe me from whatsapp promos",
        "I keep getting sale emails after unsubscribing",
    ],
    Intent.FEEDBACK: [
        "just wanted to say I love my new chore jacket",
        "your website is really slow on my phone",
        "you should do the wrap dress in more colours",
    ],
    Intent.COMPLAINT: [
        "this is the worst service ive ever had, nobody replies",
        "Im really angry. Three emails and no answer.",
        "your courier was rude and threw my parcel",
    ],
    Intent.HUMAN_HANDOFF: [
        "can I talk to a real person please",
        "is there a number I can call",
        "I want to speak to someone not a bot",
    ],
    Intent.GREETING: ["heyyy good morning :)", "thanks so much, bye", "hiii"],
    Intent.OUT_OF_SCOPE: [
        "what's the weather in paris tomorrow",
        "can you help me with my maths homework",
        "who won the football yesterday",
    ],
}


# Where the router failed real shoppers (the clusters), written for these tests and in no data file.
FAILURE_CLUSTERS: dict[Intent, list[str]] = {
    Intent.RETURNS_REFUNDS: [
        "I just want my money back",
        "return the jeans, they don't fit",
        "can I get my money back for the trainers, they rub",
        "hi I sent the coat back last week, when do I get refunded?",
        "the trousers are too tight so I'm sending them back",
    ],
    Intent.ORDER_CHANGE: [
        "what do I pay if I cancel",
        "is there a charge for cancelling an order",
        "please cancel my order, I bought the wrong size by mistake",
        "can you send my order to my mum's address instead, it hasn't shipped",
    ],
    Intent.SHIPPING_DELIVERY: [
        "what are my delivery options",
        "can I get next day delivery to Leeds",
        "do you have collection points",
    ],
    Intent.INVOICE: [
        "could you send me the receipt",
        "I need an invoice showing the VAT for my company",
        "the invoice has my old address, can you correct it",
    ],
    Intent.COMPLAINT: [
        "I've written twice now and still haven't heard anything back",
        "the courier said he tried to deliver but I was home all day",
        "my parcel was handed to a neighbour I have never met, second time this month",
    ],
}

# A few messages per language, written for these tests and in no data file.
BY_LANGUAGE: dict[str, list[tuple[str, Intent]]] = {
    "es": [
        ("hola, ¿dónde está mi pedido? lo hice hace una semana", Intent.ORDER_STATUS),
        ("quiero que me devolváis el dinero de las botas", Intent.RETURNS_REFUNDS),
        ("necesito una factura con IVA de mi compra", Intent.INVOICE),
        ("puedo hablar con una persona?", Intent.HUMAN_HANDOFF),
    ],
    "de": [
        ("wo ist mein paket? ich warte seit einer woche", Intent.ORDER_STATUS),
        ("die schuhe passen nicht, ich möchte mein geld zurück", Intent.RETURNS_REFUNDS),
        ("könnt ihr mir eine rechnung schicken", Intent.INVOICE),
        ("liefert ihr auch nach belgien?", Intent.SHIPPING_DELIVERY),
    ],
    "fr": [
        ("où en est ma commande s'il vous plaît", Intent.ORDER_STATUS),
        ("je voudrais annuler ma commande", Intent.ORDER_CHANGE),
        ("j'ai besoin d'une facture pour ma société", Intent.INVOICE),
        ("je veux parler à quelqu'un", Intent.HUMAN_HANDOFF),
    ],
    "it": [
        ("dov'è il mio pacco? l'ho ordinato lunedì", Intent.ORDER_STATUS),
        ("voglio restituire le scarpe e avere il rimborso", Intent.RETURNS_REFUNDS),
        ("mi serve la fattura del mio ordine", Intent.INVOICE),
        ("spedite anche in Spagna?", Intent.SHIPPING_DELIVERY),
    ],
    "pt": [
        ("onde está a minha encomenda? já passou uma semana", Intent.ORDER_STATUS),
        ("quero devolver os sapatos e receber o dinheiro", Intent.RETURNS_REFUNDS),
        ("preciso da fatura da minha compra", Intent.INVOICE),
        ("gostava de falar com um humano, pode ser?", Intent.HUMAN_HANDOFF),
    ],
}

SMALL_TALK = [
    "hola!",
    "muchas gracias",
    "danke schön",
    "tschüss",
    "merci beaucoup",
    "grazie mille",
    "obrigado",
    "adiós",
]


@pytest.fixture(scope="module")
def router() -> IntentRouter:
    return IntentRouter.default()


def test_router_is_right_on_at_least_90_percent_of_the_holdout_file(router: IntentRouter) -> None:
    holdout = load_examples(HOLDOUT_PATH)
    correct = sum(router.route(e.text).intent is e.intent for e in holdout)
    assert correct / len(holdout) >= 0.90


@pytest.mark.parametrize(
    ("text", "intent"), [(text, intent) for intent, texts in HARD_CASES.items() for text in texts], ids=str
)
def test_hard_case_is_routed_to_its_intent(router: IntentRouter, text: str, intent: Intent) -> None:
    assert router.route(text).intent is intent


def test_hard_cases_are_not_training_examples() -> None:
    seen = {e.text.lower() for e in load_training_examples()}
    written = [
        *(t for texts in HARD_CASES.values() for t in texts),
        *(t for texts in FAILURE_CLUSTERS.values() for t in texts),
        *(t for pairs in BY_LANGUAGE.values() for t, _ in pairs),
    ]
    assert [t for t in written if t.lower() in seen] == []


@pytest.mark.parametrize(
    ("text", "intent"), [(text, intent) for intent, texts in FAILURE_CLUSTERS.items() for text in texts], ids=str
)
def test_money_back_cancellation_delivery_invoice_and_calm_complaints_are_routed_right(
    router: IntentRouter, text: str, intent: Intent
) -> None:
    assert router.route(text).intent is intent


@pytest.mark.parametrize(
    ("text", "intent"), [(text, intent) for pairs in BY_LANGUAGE.values() for text, intent in pairs], ids=str
)
def test_a_message_in_another_language_is_routed_to_its_intent(router: IntentRouter, text: str, intent: Intent) -> None:
    routed = router.route(text)
    assert routed.intent is intent
    assert not routed.fallback


@pytest.mark.parametrize("text", SMALL_TALK)
def test_small_talk_in_the_six_languages_is_a_greeting_by_rule(router: IntentRouter, text: str) -> None:
    routed = router.route(text)
    assert routed.intent is Intent.GREETING
    assert routed.rule == "small_talk"


def test_a_greeting_word_in_front_of_a_request_in_spanish_does_not_win(router: IntentRouter) -> None:
    assert router.route("hola, quiero devolver unos zapatos").intent is Intent.RETURNS_REFUNDS


def test_shipped_sentence_vectors_match_the_data_files() -> None:
    # Fails when a data file was edited and `python -m agents.intent_vectors` was not run again.
    assert intent_vectors.stored_digest() == intent_vectors.data_digest(), "run: python -m agents.intent_vectors"


def test_every_training_and_holdout_message_has_a_shipped_vector() -> None:
    with np.load(intent_vectors.ARTIFACT_PATH) as artifact:
        shipped = {str(t) for t in artifact["texts"]}
    assert {e.text for e in (*load_training_examples(), *load_holdout_examples())} <= shipped


def test_paraphrases_cover_six_languages_and_keep_their_holdout_separate() -> None:
    training = load_training_examples()
    holdout = load_holdout_examples()
    assert {e.language for e in training} == {"en", "es", "de", "fr", "it", "pt"}
    assert {e.language for e in holdout} == {"en", "es", "de", "fr", "it", "pt"}
    assert {e.text.lower() for e in holdout} & {e.text.lower() for e in training} == set()
    for language in ("es", "de", "fr", "it", "pt"):
        intents = Counter(e.intent for e in training if e.language == language)
        assert set(intents) == set(INTENTS), language


def test_an_example_line_may_name_its_language_and_family(tmp_path: Path) -> None:
    path = tmp_path / "examples.jsonl"
    rows = [
        {"text": "hola", "intent": "greeting", "language": "es", "source": "es_everyday"},
        {"text": "hi", "intent": "greeting"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert load_examples(path) == [
        Example("hola", Intent.GREETING, language="es", source="es_everyday"),
        Example("hi", Intent.GREETING),
    ]


def test_a_greeting_in_front_of_a_request_does_not_win(router: IntentRouter) -> None:
    assert router.route("hi there, where is my order A-10412").intent is Intent.ORDER_STATUS
    assert router.route("Hello! I'd like to return the boots I bought, they're too small").intent is (
        Intent.RETURNS_REFUNDS
    )
    assert router.route("thanks! also can you cancel order 10455").intent is Intent.ORDER_CHANGE


def test_an_order_number_with_where_is_an_order_status_question(router: IntentRouter) -> None:
    routed = router.route("A-10423 where is it")
    assert routed.intent is Intent.ORDER_STATUS
    assert routed.rule == "order_number_status"
    # The rule stays out of the way when the message asks for something else, or the number is not an order's.
    assert router.route("where do I send the return for A-10423").intent is Intent.RETURNS_REFUNDS
    assert router.route("where do you deliver to? my zip is 90210").intent is Intent.SHIPPING_DELIVERY


def test_small_talk_is_a_greeting_but_gibberish_is_not(router: IntentRouter) -> None:
    assert router.route("ok thanks, bye!").intent is Intent.GREETING
    assert router.route("asdf qwerty").intent is Intent.OUT_OF_SCOPE


def test_route_reports_a_confidence_and_a_different_runner_up(router: IntentRouter) -> None:
    routed = router.route("do you have the wide leg jeans in dark wash")
    assert routed.intent is Intent.PRODUCT_SEARCH
    assert 0 < routed.runner_up_confidence <= routed.confidence <= 1
    assert routed.runner_up is not routed.intent
    assert not routed.fallback


def test_probabilities_cover_every_intent_and_sum_to_one(router: IntentRouter) -> None:
    probabilities = router.probabilities("is the pocket tee see through")
    assert probabilities.shape == (len(INTENTS),)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_unsure_router_falls_back_and_keeps_its_guess() -> None:
    strict = IntentRouter.train(load_examples(), confidence_floor=0.999)
    routed = strict.route("the hoodie, hmm, not sure about it")
    assert routed.fallback
    assert routed.intent is FALLBACK_INTENT
    assert routed.predicted is not FALLBACK_INTENT
    assert routed.confidence < 0.999


def test_a_message_without_words_falls_back(router: IntentRouter) -> None:
    for text in ("", "   ", "👍", "???"):
        routed = router.route(text)
        assert routed.fallback and routed.intent is FALLBACK_INTENT


def test_training_is_deterministic() -> None:
    examples = load_examples()[::3]
    first = IntentRouter.train(examples).probabilities("can I change the colour of my order")
    second = IntentRouter.train(examples).probabilities("can I change the colour of my order")
    assert np.array_equal(first, second)


def test_default_router_is_trained_once_per_process() -> None:
    assert IntentRouter.default() is IntentRouter.default()


def test_training_needs_more_than_one_intent() -> None:
    with pytest.raises(ValueError, match="at least two intents"):
        IntentRouter.train([Example("hi", Intent.GREETING), Example("hello", Intent.GREETING)])


def test_a_bad_example_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "examples.jsonl"
    path.write_text(json.dumps({"text": "hi", "intent": "greeting"}) + "\n" + json.dumps({"text": "x", "intent": "x"}))
    with pytest.raises(ValueError, match=r"examples\.jsonl:2"):
        load_examples(path)


def test_shipped_data_covers_every_intent_and_keeps_the_holdout_separate() -> None:
    training = load_examples()
    holdout = load_examples(HOLDOUT_PATH)
    assert min(Counter(e.intent for e in training)[i] for i in INTENTS) >= 60
    assert min(Counter(e.intent for e in holdout)[i] for i in INTENTS) >= 15
    assert {e.text.lower() for e in holdout} & {e.text.lower() for e in training} == set()


def test_routing_needs_neither_torch_nor_scikit_learn() -> None:
    code = (
        "import sys, agents.router, agents.entities\n"
        "agents.router.IntentRouter.default().route('where is my order')\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'scipy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    )
    assert result.stdout.strip() == "[]"
