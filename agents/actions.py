"""Read what a shopper wants done with an order, in any of the six languages: return, cancel, change the address,
or hear where a request stands; and, within such a conversation, which items, why, and yes or no.

No language model decides: a shopper's "I want to send back the jeans" must start a return whether or not one is
configured. Two readers vote. Word patterns know the exact phrasings (a reference, "cancel order 10234"); a sentence
head (softmax regression over the shared multilingual sentence vector, trained at start-up on
`agents/data/action_examples.jsonl`) knows the phrasings nobody listed ("scrap that last order", "ship it to my
office instead"), questions about a request's progress, and the near misses ("I don't want to cancel, just asking
when it ships"). The head decides when it is sure; the words otherwise. A message that names an action but asks
about it ("can I return sale items?") is a question for the policy pages; one that asks for it starts it.

A return's reason is read the same way when the shopper answers "why?": words first, then a head trained on
`agents/data/reason_examples.jsonl`. Both heads were measured on messages written apart from their training data
(`tests/unit/test_order_action_reading.py`); without the encoder installed the words read alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz

from agents import intent_vectors
from agents.entities import fold
from agents.intent_vectors import ACTION_EXAMPLES_PATH, REASON_EXAMPLES_PATH
from agents.linear import fit_dense_softmax, softmax
from hub.knowledge import encoder
from hub.order_requests import ReturnReason
from hub.text import without_identifiers


class Action(StrEnum):
    RETURN = "return"
    CANCEL = "cancel"
    ADDRESS = "address"
    STATUS = "status"
    """Where a return, cancellation or address change stands."""


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])")


_RETURN = _words(
    r"return(?:s|ing|ed|able)?|send (?:\w+ ){0,2}back|sending (?:\w+ ){0,2}back|refund(?:s|ed)?|money back"
    r"|rma|devolver(?:lo|la|los|las)?|devuelvo|devolucion(?:es)?|reembolsos?|retornar|dinero de vuelta"
    r"|zuruck(?:schicken|senden|geben|gesendet|geschickt)|(?:schicke|sende|gebe) \w+(?: \w+)? zuruck|retoure|retournieren"
    r"|rucksendung\w*|ruckgabe\w*|erstattung|umtausch(?:en)?|geld zuruck"
    r"|retourner|renvoyer|retours?|rembourser|remboursements?|renvoi"
    r"|restituire|restituisco|reso|resi|rimborsi|rimborso|rendere|rimandare"
    r"|devolucao|devolucoes|devolver|reembolso|trocar|troca|dinheiro de volta"
)
_CANCEL = _words(
    r"cancel(?:l?ed|l?ing|lations?)?|anular|anula|anulen|annullate|annulli|stornier(?:en|ung|t)?|storno|annuler|annulation|annulez|annullare|annulla"
    r"|cancellare|cancella|cancellazione|cancelar|cancelacion|cancelamento|cancela"
)
_ADDRESS = _words(
    r"(?:shipping |delivery |postal |new |different )?address|ship (?:it )?to|deliver (?:it )?to|direccion|domicilio"
    r"|addy|(?:liefer|versand|neue )?adresse|anschrift|indirizzo|endereco|morada"
)
_STATUS = _words(
    r"status|where is|update on|any news|heard back|approved|estado|novedades|wo ist|stand|etat|ou en est"
    r"|stato|a che punto|situacao|como esta|go(?:ne)? through|went through"
)
_REFERENCE = re.compile(r"\b(?:RMA|CXL|ADR)-[0-9A-Z]{8}\b", re.IGNORECASE)
_WANT = _words(
    r"i want|i wanna|i'd like|i would like|i need|i have to|please|pls|plz|can you|could you|would you|help me"
    r"|start|open|initiate|process|let me|i'm returning|i am returning|want to|need to|like to"
    r"|quiero|quisiera|necesito|me gustaria|puedes|podrias|puede|podria|por favor|ayudame"
    r"|ich mochte|ich will|ich wurde gerne?|ich hatte gerne?|ich muss|bitte|konnen sie|kannst du|konnten sie"
    r"|je veux|je voudrais|j'aimerais|je souhaite|il faut|je dois|pouvez-vous|pouvez vous|peux-tu|s'il vous plait|s'il te plait"
    r"|voglio|vorrei|devo|puoi|potete|puo|per favore"
    r"|quero|queria|gostaria|preciso|pode|podem|por favor"
)
_QUESTION = _words(
    r"how|what|which|policy|can i|may i|is it possible|do you|how long|when can|within"
    r"|como|cual|politica|puedo|se puede|cuanto tiempo|wie|was|welche|kann ich|richtlinie|wie lange"
    r"|comment|quelle?|politique|puis-je|est-ce possible|combien de temps|come|quale|politica|posso|si puo"
    r"|quanto tempo|qual|posso"
)
_MY_ORDER = _words(
    r"my (?:order|purchase|package|parcel|item|items|jeans|shoes|dress)|mi (?:pedido|compra|paquete)|meine? (?:bestellung|paket)"
    r"|ma commande|mon (?:colis|achat)|il mio ordine|mio ordine|meu pedido|minha encomenda|o meu pedido"
)


Read = tuple[Action, bool]
"""An action, and whether the message asks for it to be done (True) or asks about it (False)."""

ACTION_LABELS: dict[str, Read | None] = {
    "return_request": (Action.RETURN, True),
    "return_question": (Action.RETURN, False),
    "cancel_request": (Action.CANCEL, True),
    "cancel_question": (Action.CANCEL, False),
    "address_request": (Action.ADDRESS, True),
    "address_question": (Action.ADDRESS, False),
    "status": (Action.STATUS, True),
    "none": None,
}
"""The action head's classes, as `action_of` answers them."""
HEAD_FLOOR = 0.5
"""Least probability at which the action head says whether the action the words read is asked for or asked about,
and at which the reason head names a reason."""
HEAD_OVERRULES = 0.7
"""Least probability at which the action head decides alone: an action the words missed, another action than
theirs, or none where they read one. Lower, "where is my order A-10234" starts an address change now and then (the
head has seen order numbers mostly in requests). Chosen on the first two held-out sets and order-tracking messages,
then measured on a third (see the test)."""


def action_of(text: str, *, has_order: bool, tracking: bool = False) -> Read | None:
    """The action a message names, and whether it asks for it to be done (an order number, "I want", "please", "my
    order") rather than asks about it ("can I return sale items?"); None when it names none.

    `tracking`: the router read the message as asking where an order is; the head alone then starts nothing (only
    the words may), as "order 1003 please, email bo@example.com" is a status check however much it looks like a
    cancellation with its identifiers taken out."""
    if _REFERENCE.search(text):
        return Action.STATUS, True
    said = fold(text)
    negated = _negated(said)
    words = None if negated is not None else _words_read(said, has_order=has_order)
    reading = _reading(_action_head(), text)
    if reading is None:
        return words
    label, p = reading
    read = ACTION_LABELS[label]
    if read is not None and read[1] and read[0] is negated:
        return None  # "I don't want to cancel": the head reads "want to cancel"
    if has_order and read is not None and read[0] is not Action.STATUS:
        read = (read[0], True)  # an order number named: this order, not the policy
    if words is not None and read is not None and read[0] is words[0]:
        return read if p >= HEAD_FLOOR else words
    if words is not None and read is not None and read[0] is not Action.STATUS:
        return words  # the words name the verb ("return my order"); the head mixes up returns and cancellations
    if words is None and tracking:
        return None
    return read if p >= HEAD_OVERRULES else words


_NOT_WANTED = _words(
    r"(?:do ?n[o']?t|do not|not|never) (?:want|wanna|need|going|plan|mean|intend)(?: to)?|i'?m not"
    r"|no (?:quiero|quisiera|necesito|voy a|pienso)|(?:will|mochte|muss|wollte) (?:\w+ )?nicht"
    r"|(?:ne )?(?:veux|voudrais|compte|vais) pas|non (?:voglio|vorrei|devo|intendo|ho intenzione)"
    r"|nao (?:quero|queria|preciso|vou)"
)


def _negated(said: str) -> Action | None:
    """The action a shopper says they do not want ("I don't want to cancel, just asking when it ships", "non voglio
    annullare niente"): a negation followed within three words by the action's word. A sentence vector hardly
    tells "want to cancel" from "don't want to cancel", so neither reader may then ask for that action."""
    for found in _NOT_WANTED.finditer(said):
        after = " ".join(said[found.end() :].split()[:3])
        for action, pattern in ((Action.CANCEL, _CANCEL), (Action.RETURN, _RETURN), (Action.ADDRESS, _ADDRESS)):
            if pattern.search(after):
                return action
    return None


def _words_read(said: str, *, has_order: bool) -> Read | None:
    """What the word patterns read in a folded message (`agents.entities.fold`)."""
    found: Action | None = None
    if _CANCEL.search(said):
        found = Action.CANCEL
    elif _RETURN.search(said):
        found = Action.RETURN
    elif _ADDRESS.search(said) and re.search(
        r"chang|wrong|update|swap|new|different|andern|falsch|neue|cambi|modifi|alter|mudar|corrig|correg|sbagliat|errad",
        said,
    ):
        found = Action.ADDRESS
    if found is None:
        return None
    if found in (Action.RETURN, Action.CANCEL) and _STATUS.search(said) and not _WANT.search(said):
        return Action.STATUS, True  # "what's the status of my return?", "où en est ma demande d'annulation ?"
    pattern = {Action.CANCEL: _CANCEL, Action.RETURN: _RETURN, Action.ADDRESS: _ADDRESS}[found]
    first = pattern.match(said.lstrip(" ¡¿\"'"))  # an imperative: "return the jeans", "cancela mi pedido"
    wants = has_order or first is not None or _WANT.search(said) is not None or _MY_ORDER.search(said) is not None
    asks_about = _QUESTION.search(said) is not None and not has_order
    return found, wants and not (asks_about and not _strong_want(said))


def _strong_want(said: str) -> bool:
    return (
        re.search(
            r"\b(?:i want|i'd like|i would like|quiero|ich mochte|ich will|je veux|je voudrais|voglio|vorrei|quero|gostaria)\b",
            said,
        )
        is not None
    )


def reference_in(text: str) -> str | None:
    found = _REFERENCE.search(text)
    return found.group(0).upper() if found else None


_REASONS: dict[ReturnReason, re.Pattern[str]] = {
    ReturnReason.DAMAGED: _words(
        r"damaged|broken|busted|faulty|defect(?:ive)?|torn|ripped|hole|stain(?:ed)?|danado|roto|rota|defectuos[oa]|manchad[oa]"
        r"|mancha|agujero|trou|buco|macchia|buraco"
        r"|beschadigt|kaputt|defekt|gerissen|loch|endommage|abime|casse|defectueux|dechire|tache|danneggiat[oa]|rott[oa]"
        r"|difettos[oa]|strappat[oa]|macchiat[oa]|danificad[oa]|estragad[oa]|defeituos[oa]|rasgad[oa]|manchad[oa]"
    ),
    ReturnReason.WRONG_ITEM: _words(
        r"wrong (?:item|size|colou?r|one|product)|not what i ordered|sent me the wrong|equivocad[oa]|incorrect[oa]|no es lo que pedi"
        r"|falsch(?:e|en|er)?(?: artikel| grosse| farbe)?|nicht bestellt|mauvais(?:e)? (?:article|taille|couleur)|pas ce que j'ai commande"
        r"|sbagliat[oa]|non e quello che ho ordinato|errad[oa]|nao e o que (?:eu )?pedi|not the right|(?:otro|otra) (?:producto|articulo|cosa)"
        r"|nicht (?:der|die|das) richtige|pas (?:le bon|la bonne)|un altro (?:articolo|prodotto)|outro (?:produto|artigo)"
    ),
    ReturnReason.DOESNT_FIT: _words(
        r"(?:does ?n[o']?t|did ?n[o']?t|not) fit|fit|size|too (?:small|big|large|tight|loose|long|short)|tight|loose"
        r"|talla|tamano|me queda|aprieta|pequen[oa]|grande|ajustad[oa]|passt nicht|passt|grosse|zu (?:klein|gross|eng|weit|lang|kurz)"
        r"|taille|trop (?:petit|grand|serre|large|court|long)e?|ne me va pas|taglia|piccol[oa]|stretto|larg[oa]|non mi sta"
        r"|tamanho|nao serve|nao serviu|aperta|pequen[oa]|apertad[oa]|nao me serve"
    ),
    ReturnReason.NOT_AS_DESCRIBED: _words(
        r"not as (?:described|pictured|shown|advertised)|looks different|different (?:from|than)|quality|cheap"
        r"|nothing like|does ?n[o']?t match|no es como|no corresponde|diferente|calidad|nicht wie (?:beschrieben|abgebildet)"
        r"|anders (?:als|aus)|entspricht nicht|qualitat|pas conforme"
        r"|ne correspond pas|different de|qualite|non come|non corrisponde|nao corresponde|divers[oa] da|qualita|nao e como|diferente|qualidade"
    ),
    ReturnReason.CHANGED_MIND: _words(
        r"changed? my mind|do ?n[o']?t (?:want|like|need)|no longer (?:want|need)|don't like|not for me"
        r"|cambie de (?:opinion|idea)|no me gusta|ya no (?:lo|la) quiero|no lo necesito|gefallt mir nicht"
        r"|nicht mehr|brauche (?:es|ihn|sie) nicht|anders uberlegt|change d'avis|ne me plait pas|n'en veux plus"
        r"|ho cambiato idea|non mi piace|non (?:lo|la) voglio piu|mudei de ideia|nao gostei|nao quero mais"
    ),
}


def reason_in(
    text: str, labels: dict[ReturnReason, str] | None = None, *, answering: bool = False
) -> ReturnReason | None:
    """The return reason a message gives: a button's title exactly (in the shopper's language), else its words, else
    (only when `answering` the question "why?", not in any message of a return) the reason head's reading."""
    said = fold(text).strip(" .!")
    for reason, label in (labels or {}).items():
        if said == fold(label):
            return reason
    for reason, pattern in _REASONS.items():
        if pattern.search(said):
            return reason
    reading = _reading(_reason_head(), text) if answering else None
    return ReturnReason(reading[0]) if reading is not None and reading[1] >= HEAD_FLOOR else None


@dataclass(frozen=True)
class SentenceHead:
    """Softmax regression over a message's sentence vector (read without its identifiers: "where is my order
    A-12030" means what "where is my order" means), trained on labelled messages of one data file."""

    labels: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def train(cls, path: Path, labels: Sequence[str]) -> SentenceHead:
        """Fit on a JSON-lines file of {"language", "label", "text"}; the same file gives the same head."""
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        vectors = intent_vectors.vectors_for([without_identifiers(row["text"]) for row in rows])
        targets = np.array([labels.index(row["label"]) for row in rows], dtype=np.int64)
        weights, bias = fit_dense_softmax(vectors, targets, len(labels))
        return cls(tuple(labels), weights, bias)

    def read(self, vector: np.ndarray) -> tuple[str, float]:
        """The most probable label of a message's vector, and its probability."""
        probabilities = softmax(vector @ self.weights + self.bias)
        best = int(probabilities.argmax())
        return self.labels[best], float(probabilities[best])


def _reading(head: SentenceHead | None, text: str) -> tuple[str, float] | None:
    """A head's reading of a message without its identifiers; None without the head or the encoder."""
    vector = intent_vectors.sentence_vector(without_identifiers(text)) if head is not None else None
    return None if head is None or vector is None else head.read(vector)


def train_heads() -> None:
    """Train both sentence heads now (each once per process; about a second together) instead of on first use."""
    _action_head()
    _reason_head()


@cache
def _action_head() -> SentenceHead | None:
    return _head(ACTION_EXAMPLES_PATH, tuple(ACTION_LABELS))


@cache
def _reason_head() -> SentenceHead | None:
    return _head(REASON_EXAMPLES_PATH, tuple(r.value for r in ReturnReason if r is not ReturnReason.OTHER))


def _head(path: Path, labels: tuple[str, ...]) -> SentenceHead | None:
    """The head trained on `path`, or None when the encoder is not installed (the words then read alone)."""
    try:
        return SentenceHead.train(path, labels)
    except encoder.EncoderMissingError:
        return None


_FILLERS = frozenset(
    "the and for one con per les des une una uno der die das und mit von del los las com por sin sur aux dos par".split()
)
"""Short words of a title that name no item ("Wool Cap" is picked by "cap", not "Cap and Scarf" by "and")."""

_ALL = _words(
    r"all|everything|both|all of (?:it|them)|the whole order|todo|todos|ambos|ambas|alles|beide|alle|tout|tous|toutes"
    r"|les deux|tutto|tutti|entrambi|tudo|todos|ambos"
)


def items_in(text: str, choices: Sequence[tuple[str, str]], *, all_label: str | None = None) -> list[str] | None:
    """Which of `choices` ((sku, title), in the order they were offered) a message picks: by SKU, by title (typos
    and a shortened button title allowed), by position ("2", "the second"), or all of them; None when it names none."""
    said = fold(text)
    if (all_label and said.strip(" .!") == fold(all_label)) or _ALL.search(said):
        return [sku for sku, _ in choices]
    picked = [sku for sku, _ in choices if fold(sku) in said]
    if not picked:
        said_words = {w.rstrip("s") for w in re.findall(r"\w+", said)}
        for sku, title in choices:
            name = fold(title)
            title_words = {
                w.rstrip("s") for w in re.findall(r"\w+", name) if len(w) >= 4 or (len(w) == 3 and w not in _FILLERS)
            }
            button = len(said) >= 6 and fuzz.partial_ratio(said.strip(" .!…"), name) >= 90
            if button or title_words & said_words:
                picked.append(sku)
    if not picked:
        for position in re.findall(r"\b([1-9])\b", said):
            index = int(position) - 1
            if index < len(choices):
                picked.append(choices[index][0])
    return list(dict.fromkeys(picked)) or None
