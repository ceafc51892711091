"""The languages HUB understands and answers in, and which one a shopper's message is written in.

A message is told by lingua (n-gram models for the shop's languages, accurate on short text) after the words
that say nothing about its language are taken out: order numbers, SKUs, emails, prices and the shop's own product
words ("Slub Cotton Crew Tee" in a Spanish sentence). What is left decides only when it is enough to decide on; a
one-word "ok" or "Preis?" keeps the conversation's language. A few words no detector can place alone ("merci",
"gracias") are known by list.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from hub.text import EMAIL_MENTION, ORDER_MENTION, PHONE_MENTION, PRICE_MENTION, SKU_MENTION

if TYPE_CHECKING:
    from lingua import LanguageDetector

Language = Literal["en", "es", "de", "fr", "it", "pt"]
"""A language HUB reads and writes, by its ISO 639-1 code (the BCP-47 primary tag the chat API reports)."""

LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"

NAMES: dict[Language, str] = {
    "en": "English",
    "es": "Spanish",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "pt": "Portuguese",
}
"""Each language's English name, as a prompt tells a model which language to answer in."""

LOCALES: dict[Language, str] = {
    "en": "en_US",
    "es": "es_ES",
    "de": "de_DE",
    "fr": "fr_FR",
    "it": "it_IT",
    "pt": "pt_PT",
}
"""The Babel locale each language's prices, numbers and dates are written in."""

MIN_CONFIDENCE = 0.5
"""Least probability the detector's first language needs, among the shop's languages, to change the conversation's."""

MIN_LEAD_CONFIDENCE = 0.3
LEAD = 2.0
"""Below `MIN_CONFIDENCE`, the first language still decides from `MIN_LEAD_CONFIDENCE` up when it is `LEAD` times as
likely as the second ("what do I pay if I cancel": English 0.44, French 0.15)."""

MIN_ONE_WORD_CONFIDENCE = 0.8

MIN_LETTERS = 4
"""Fewer letters than this, once identifiers and product words are out, say nothing about a language."""

# Words that are a whole message on their own and that letter n-grams misplace ("merci" reads as Italian).
_TELLING_WORDS: dict[Language, frozenset[str]] = {
    "en": frozenset("hi hello hey thanks thank you thx cheers bye goodbye please yes no".split()),
    "es": frozenset("hola gracias adiós adios buenas buenos días dias tardes noches vale sí perfecto muchas".split()),
    "de": frozenset("hallo danke tschüss tschuss servus moin bitte ja nein genau guten tag morgen abend".split()),
    "fr": frozenset("bonjour bonsoir salut merci beaucoup oui non au revoir bonne journée svp".split()),
    "it": frozenset("ciao buongiorno buonasera grazie mille prego arrivederci sì perfetto".split()),
    "pt": frozenset("olá ola obrigado obrigada bom dia boa tarde noite tchau sim não nao valeu".split()),
}
# Short words that are each language's own, for messages too short for the n-gram models to be sure of ("Quanto
# costa il …?": Italian 0.43, Portuguese 0.34). A word shared by several languages counts for each, split.
_FUNCTION_WORDS: dict[Language, frozenset[str]] = {
    "en": frozenset(
        "the is are my your how much what where when does do you have can this that with for and of to "
        "please want need order price cost costs any".split()
    ),
    "es": frozenset(
        "el los las del es está están mi mis cuánto cuanto cuesta dónde donde cuándo cuando tienen tiene "
        "quiero puedo para por con y pedido precio envío hay qué una".split()
    ),
    "de": frozenset(
        "der die das den dem ist sind mein meine meinen wie viel kostet wo wann habt haben ich möchte kann "
        "für mit und bestellung preis versand bitte nicht ein eine".split()
    ),
    "fr": frozenset(
        "le les est sont mon ma mes combien coûte où quand avez vous je voudrais peux pour avec et "
        "commande prix livraison ne pas du des une il".split()
    ),
    "it": frozenset(
        "il lo gli è sono mio mia miei quanto costa dove quando avete vorrei posso per con e ordine "
        "prezzo spedizione non della del che una".split()
    ),
    "pt": frozenset(
        "o os é são meu minha quanto custa onde quando vocês têm tem quero posso para com e encomenda "
        "pedido preço envio não da do uma".split()
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Detection:
    """Which language one message is in, and whether the message itself said so."""

    language: Language
    confident: bool
    """False when the message had too little to go on, so `language` is the conversation's or the shop's."""


def telling_text(text: str, ignore: Iterable[str] = ()) -> str:
    """The words of a message that say which language it is in: without identifiers, links, prices and the words
    in `ignore` (the shop's own product words, lower-case)."""
    for pattern in (_URL, EMAIL_MENTION, SKU_MENTION, ORDER_MENTION, PRICE_MENTION, PHONE_MENTION):
        text = pattern.sub(" ", text)
    skip = frozenset(ignore)
    return " ".join(w for w in _WORD.findall(text) if w.casefold() not in skip)


def detect_language(
    text: str,
    *,
    allowed: Iterable[Language] = LANGUAGES,
    fallback: Language = DEFAULT_LANGUAGE,
    ignore: Iterable[str] = (),
) -> Detection:
    """Tell which of the `allowed` languages `text` is written in; `fallback` (the conversation's language, else the
    shop's default) when the message does not say."""
    choices = _key(allowed)
    if len(choices) == 1:
        return Detection(choices[0], confident=True)
    telling = telling_text(text, ignore)
    words = [w.casefold() for w in _WORD.findall(telling)]
    if not words:
        return Detection(fallback, confident=False)
    by_list: list[Language] = [lang for lang in choices if words and all(w in _TELLING_WORDS[lang] for w in words)]
    if len(by_list) == 1:
        return Detection(by_list[0], confident=True)
    if sum(map(len, words)) < MIN_LETTERS:
        return Detection(fallback, confident=False)
    ranked = _detector(choices).compute_language_confidence_values(telling)
    best, second = ranked[0].value, ranked[1].value if len(ranked) > 1 else 0.0
    language = spoken(ranked[0].language.iso_code_639_1.name)
    if len(words) > 1:
        sure = best >= MIN_CONFIDENCE or (best >= MIN_LEAD_CONFIDENCE and best >= LEAD * second)
    else:  # one word is thin evidence: it decides only when the detector is sure of it
        sure = best >= MIN_ONE_WORD_CONFIDENCE
    if language in choices and sure:
        return Detection(language, confident=True)
    # Unsure: the language whose own short words the message uses, if the models rank it first or second.
    voted = _by_function_words(words, choices)
    contenders = {spoken(r.language.iso_code_639_1.name) for r in ranked[:2]}
    if voted is not None and voted in contenders:
        return Detection(voted, confident=True)
    return Detection(fallback, confident=False)


def _by_function_words(words: list[str], choices: tuple[Language, ...]) -> Language | None:
    """The language whose function words the message uses clearly most (by a whole word's weight), or None."""
    scores: dict[Language, float] = dict.fromkeys(choices, 0.0)
    for word in words:
        owners: list[Language] = [lang for lang in choices if word in _FUNCTION_WORDS[lang]]
        for lang in owners:
            scores[lang] += 1 / len(owners)
    ranked = sorted(choices, key=lambda lang: -scores[lang])
    best = scores[ranked[0]]
    second = scores[ranked[1]] if len(ranked) > 1 else 0.0
    return ranked[0] if best >= 1 and best - second >= 0.5 else None


_BY_CODE: dict[str, Language] = {code: code for code in LANGUAGES}


def spoken(code: str | None) -> Language | None:
    """A stored or reported language code as a `Language`, None for none or one HUB does not speak."""
    return _BY_CODE.get(code.lower()) if code else None


_BUILD_LOCK = threading.Lock()


_DETECTORS: dict[tuple[Language, ...], LanguageDetector] = {}


def detector_loaded(languages: Iterable[Language] = LANGUAGES) -> bool:
    """Tell whether the models for telling these languages apart are in memory (loading them takes about a second:
    an async caller loads them in a thread, `load_detector`)."""
    return _key(languages) in _DETECTORS


def load_detector(languages: Iterable[Language] = LANGUAGES) -> None:
    _detector(_key(languages))


def _key(languages: Iterable[Language]) -> tuple[Language, ...]:
    return tuple(sorted(set(languages), key=LANGUAGES.index))


def _detector(languages: tuple[Language, ...]) -> LanguageDetector:
    """A detector for these languages, its models loaded on first use (about 30 MB each)."""
    if (found := _DETECTORS.get(languages)) is not None:
        return found
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    with _BUILD_LOCK:
        if languages not in _DETECTORS:
            codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
            _DETECTORS[languages] = (
                LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models().build()
            )
        return _DETECTORS[languages]


def reply_language(detected: Language, *, languages: Iterable[Language], default: Language) -> Language:
    """The language a reply is written in: the shopper's when the shop answers in it, else the shop's default."""
    return detected if detected in set(languages) else default


_YES = (
    r"yes|yeah|yep|yup|ya|sure|ok|okay|okey|correct|right|confirm(?:ed)?|go ahead|go for it|do it|please do|sounds good|absolutely"
    r"|of course|affirmative|s[iíì]|claro|vale|dale|venga|de acuerdo|adelante|correcto|confirmo|por supuesto|ja|jo|jep|jawohl|genau|klar"
    r"|richtig|gerne|best(?:ä|ae)tige|einverstanden|oui|ouais|d'accord|vas-y|allez-y|bien s[uû]r|confirme|exact|certo"
    r"|certamente|va bene|confermo|esatto|procedi|procedete|sim|pode|isso|beleza|bora|confirmo|com certeza|👍|✅"
    # everyday and regional ways of saying yes, per language
    r"|yea|yass|aye|kk|k|alright|all right|fine|perfect|great|cool|deal|definitely|for sure|totally|let'?s do it|proceed"
    r"|s[ií]p|sipi|[oó]rale|va|sim[oó]n|obvio|perfecto|listo|h[aá]gale|de una|exacto|c[oó]mo no|hecho|ok[aá]"
    r"|passt|geht klar|alles klar|auf jeden fall|jup|japp|jawoll|gern|sicher|nat[uü]rlich|logo|freilich|perfekt|mach das"
    r"|ouaip|ouep|carr[ée]ment|parfait|c'est bon|[cç]a marche|allons-y|volontiers|[ée]videmment|absolument|tout [àa] fait"
    r"|d'acc|dac|certainement|s[iì] certo|perfetto|d'accordo|vai|andiamo|procediamo|fallo|ovvio|sicuro"
    r"|pode ser|fechado|blz|perfeito|combinado|manda ver|vamos|isso mesmo|exato|t[aá] bom|est[aá] bem|siga"
)
_POLITE = (
    r"please|thanks|thank you|por favor|gracias|danke|bitte|merci|s'il (?:te|vous) pla[iî]t|grazie|per favore"
    r"|obrigad[oa]"
)
_NO = (
    r"no|nope|nah|nay|don'?t|do not|never ?mind|wait|hold (?:on|off)|stop|not now|not yet|no way|rather not|forget it"
    r"|nein|nee|n[eö]|nicht|lieber nicht|keinen fall|warte|stopp|vergiss es|non|pas|nan|laisse tomber|attends|surtout pas"
    r"|hors de question|nao|não|nel|nop|ni de broma|ni loco|para nada|mejor no|espera|d[eé]jalo|olv[ií]dalo|ninguno|nada"
    r"|lascia stare|aspetta|neanche per sogno|per niente|nem pensar|deixa|negativo|nenhum|👎|❌"
)
_UNSURE = re.compile(
    r"\b(?:not sure|no s[eé]|no estoy segur[oa]|wei(?:ß|ss) nicht|nicht sicher|je ne sais pas|pas s[uû]r"
    r"|non so|non sono sicur[oa]|n[aã]o sei|n[aã]o tenho certeza)\b",
    re.IGNORECASE,
)
"""A shopper who does not know yet says neither, though the words hold a "no"."""
_YES_ONLY = re.compile(rf"(?:\b(?:{_YES}|{_POLITE})\b|[\s\W_])+", re.IGNORECASE)
_NO_WORD = re.compile(rf"\b(?:{_NO})\b", re.IGNORECASE)
_YES_WORD = re.compile(rf"(?:^|\W)(?:{_YES})(?:\W|$)", re.IGNORECASE)


def affirmation(text: str) -> bool | None:
    """Whether a reply to a yes-or-no question says yes (True) or no (False), in any of the six languages; None when
    it says neither or both ("yes, but change the size" is not a plain yes: it is read as neither). A button's id
    (`yes`, `no`) reads the same as its words."""
    said = " ".join(text.casefold().split())
    if not said or len(said) > 80:
        return None
    if _UNSURE.search(said):
        return None
    no = _NO_WORD.search(said) is not None
    if not no and _YES_ONLY.fullmatch(said) is not None and re.search(r"\w|👍|✅", said):
        return True
    if no and _YES_WORD.search(said) is None:
        return False
    if not no and _YES_WORD.match(said) and len(said.split()) <= 4:
        return True  # "yes please go ahead", "ok do it now"
    return None
