"""Route a customer message to one intent without a language model: n-gram features and a multilingual sentence
vector, each read by a linear model whose probabilities are blended, behind two rules."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import chain, pairwise
from pathlib import Path

import numpy as np

from agents import intent_vectors
from agents.linear import fit_dense_softmax, softmax
from hub.knowledge import encoder
from hub.languages import Language
from hub.prompting.outputs import Intent
from hub.text import (
    EMAIL_MENTION,
    ORDER_AFTER_WORD_MENTION,
    ORDER_MENTION,
    PHONE_MENTION,
    PRICE_MENTION,
    SKU_MENTION,
)

EXAMPLES_PATH = Path(__file__).parent / "data" / "intent_examples.jsonl"
"""The original labelled utterances, English."""
PARAPHRASES_PATH = EXAMPLES_PATH.with_name("intent_paraphrases.jsonl")
"""Paraphrase families written per intent and language (`source` names the family)."""
TRAINING_PATHS: tuple[Path, ...] = (EXAMPLES_PATH, PARAPHRASES_PATH)
"""The files `IntentRouter.default()` trains on."""
HOLDOUT_PATHS: tuple[Path, ...] = (
    EXAMPLES_PATH.with_name("intent_holdout.jsonl"),
    EXAMPLES_PATH.with_name("intent_paraphrases_holdout.jsonl"),
)
"""Messages never trained on: the original English holdout and the paraphrases held out per language."""

INTENTS: tuple[Intent, ...] = tuple(Intent)

CONFIDENCE_FLOOR = 0.25
"""Below this probability the router does not trust its top intent and answers `FALLBACK_INTENT`."""

FALLBACK_INTENT = Intent.OUT_OF_SCOPE
"""What a message the router cannot place becomes: the engine says what it can help with and offers a person."""

RULE_CONFIDENCE = 0.95
"""Least confidence reported when a rule, not the model, decided."""

SENTENCE_WEIGHT = 0.5
"""Share of the sentence-vector head in the blended probabilities of an English message (the n-gram head has the
rest); chosen on the held-out paraphrases and the cross-source splits (evals/intent_accuracy.py)."""
FOREIGN_SENTENCE_WEIGHT = 0.9
"""Its share for a message with no word the n-gram head learned from English only: the n-gram head has seen few
messages in the other languages, the sentence head reads them all alike."""
_ENGLISH_SHARE_FOR_FULL_TRUST = 0.5
"""Share of English-only words from which a message counts as English; the sentence head's share grows linearly
from `SENTENCE_WEIGHT` to `FOREIGN_SENTENCE_WEIGHT` as the share falls to 0."""

# Training settings, chosen by 5-fold cross-validation on the training file (evals/intent_accuracy.py).
_EPOCHS = 8
_BATCH = 32
_LEARNING_RATE = 24.0
_CHAR_NGRAMS = (3, 4)

# Identifiers become type tokens, so "A-10423" and "A-99999" are the same feature and the model learns
# "where + order number", not the number.
_LONG_NUMBER = re.compile(r"\b\d{5,8}\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_ELONGATION = re.compile(r"([a-z])\1{2,}")
_TRAILING_REPEAT = re.compile(r"([a-z])\1+$")
_TOKEN = re.compile(r"[a-z0-9]+")
_PLACEHOLDER_PREFIX = "zz"

# Hand-made word classes: a message about "the trench" and one about "the hoodie" share `zzgarment`, so a
# phrasing seen with one product generalises to all of them.
_LEXICON: dict[str, str] = {
    "garment": "tee tees tshirt tshirts shirt shirts top tops tank henley henleys hoodie hoodies hoody hoodys "
    "sweatshirt sweatshirts jumper jumpers sweater sweaters fleece cardigan jeans jean denim trousers trouser pants "
    "pant chinos chino cargos cargo joggers sweatpants shorts skirt dress dresses jacket jackets coat coats overcoat "
    "trench puffer puffers parka boots boot sneakers sneaker trainers trainer shoes shoe loafers loafer sandals sandal "
    "slides runner runners bag bags tote totes backpack daypack crossbody weekender duffel beanie beanies cap caps "
    "hat hats scarf scarves scarfs belt belts socks sock wallet mug mugs candle candles cushion cushions pillow "
    "throw throws blanket blankets towel towels napkins napkin pyjamas underwear swimwear clothes clothing outfit "
    "outfits item items product products piece pieces",
    "colour": "white black navy grey gray charcoal sage oatmeal cream ecru stone rust terracotta olive forest blue "
    "lavender mustard rose pink burgundy khaki camel tan cognac chocolate brown green red yellow orange purple beige wash",
    "material": "cotton linen merino wool lambswool suede leather silk tencel canvas corduroy nylon polyester cashmere "
    "organic recycled vegan selvedge twill waxed stoneware",
    "size": "xs s m l xl xxl small medium large size sizes sizing waist fit fits petite tall",
    "person": "human humans person people agent agents someone somebody staff representative rep manager supervisor "
    "operator advisor colleague employee real live",
    "negative": "terrible awful worst unacceptable ridiculous disgusting disgraceful shocking pathetic useless furious "
    "livid angry annoyed frustrated frustrating fed sick appalled disappointed disappointing shambles joke scam "
    "scammers rude unprofessional ignored ignoring nightmare upset unhappy shameful complain complaint horrible poor "
    "hopeless ashamed shame cheated disgrace disgraceful outraged fuming dissatisfied unbelievable apology",
    "positive": "love loved loving luv adore adored great amazing awesome brilliant gorgeous beautiful stunning fantastic "
    "excellent perfect perfectly lovely impressed impressive happy pleased delighted thrilled nice comfy best favourite "
    "stellar superb wonderful fab fabulous incredible obsessed compliment compliments kudos",
    "greeting": "hi hello hey hiya howdy yo heya hii helo morning evening afternoon thanks thank thx ty cheers bye "
    "goodbye ta",
    "order": "order orders parcel package delivery shipment purchase",
    "money": "refund refunds refunded money charged charge",
    "payment": "pay paid paying payment payments card cards visa mastercard amex discover paypal klarna afterpay "
    "financing instalments installments checkout declined crypto bitcoin",
    "discount": "discount discounts code codes promo voucher vouchers coupon coupons",
    "billing": "invoice invoices invoce receipt receipts reciept vat statement billing proof",
    "marketing": "newsletter newsletters unsubscribe unsubcribe subscribe subscribed subscription mailing marketing "
    "promo promos promotional emails texts sms spam opt preferences",
    "defect": "broken broke cracked chipped ripped torn tear hole holes stain stained faulty defect defective damaged "
    "smashed snapped split splitting fell falling apart peeling pilled pilling shrank shrunk faded frayed loose missing "
    "wrong",
    "change": "change changing changed edit amend modify update switch swap cancel cancelled cancelling cancellation add "
    "remove replace correct fix",
    "availability": "stock instock restock restocked restocking available availability unavailable sold left back "
    "backorder backordered preorder discontinued",
    "advice": "recommend recommendation recommendations recs suggest suggestion suggestions ideas idea advice advise pick "
    "choose choosing decide which best favourite fave favorite popular should",
    "contact": "call ring phone number contact reach talk speak chat line callback",
    "time": "today tomorrow yesterday week weeks days day monday tuesday wednesday thursday friday saturday sunday "
    "weekend morning month ago",
    "shipping": "ship shipping shipped deliver delivery courier post postage express international customs duties "
    "carrier dispatch",
    "account": "account login log password sign profile username email data",
}
# The same classes' telling words in the other five languages (accents folded), so a phrasing learned in one
# language lends its class features to the others.
_FOREIGN_LEXICON: dict[str, str] = {
    "garment": "camiseta chaqueta abrigo vestido zapatos zapatillas jersey sudadera vaqueros pantalones bolso botas "
    "jacke mantel kleid schuhe hose pullover tasche stiefel hemd veste manteau robe chaussures pantalon pull sac bottes "
    "baskets chemise giacca cappotto vestito scarpe maglione borsa stivali felpa camicia casaco sapatos tenis camisola "
    "calcas mala moletom camisa",
    "person": "persona agente humano mensch mitarbeiter menschen personne conseiller humain persona operatore umano "
    "pessoa assistente",
    "greeting": "hola gracias adios hallo danke tschuss bonjour salut merci ciao grazie ola obrigado obrigada",
    "order": "pedido encomenda bestellung commande ordine paquete paket colis pacco pacote",
    "money": "reembolso dinero devuelvan erstattung geld ruckerstattung remboursement rembourse argent rimborso soldi "
    "dinheiro",
    "payment": "pagar pago tarjeta zahlen bezahlen karte payer paiement carte pagare pagamento carta cartao cobrado "
    "cobrasteis berechnet abgebucht facture debite addebitato",
    "discount": "descuento cupon rabatt rabattcode gutschein gutscheincode reduction sconto desconto cupao",
    "billing": "factura recibo iva rechnung quittung mwst kaufbeleg facture recu tva justificatif fattura ricevuta "
    "scontrino fatura talao comprovativo",
    "marketing": "boletin correos baja newsletter abmelden werbung werbemails desabonner desinscrire pubs disiscrivermi "
    "pubblicita desinscrever publicidade",
    "defect": "roto rota kaputt casse abime rotto rotta partido estragada",
    "change": "cancelar anular cambiar stornieren andern annuler modifier annullare cambiare alterar mudar",
    "availability": "agotado disponible stock ausverkauft lager verfugbar rupture dispo disponibile esaurito esgotado "
    "disponivel",
    "contact": "telefono llamar telefon anrufen telephone appeler telefono chiamare telefone ligar",
    "shipping": "envio entrega mensajeria aduana versand lieferung zoll paketdienst livraison transporteur douane "
    "spedizione consegna corriere dogana portes transportadora alfandega",
    "account": "cuenta contrasena konto passwort compte connecter account accedere conta senha",
}
_WORD_CLASSES: dict[str, tuple[str, ...]] = {}
for _name, _words in (*_LEXICON.items(), *_FOREIGN_LEXICON.items()):
    for _word in _words.split():
        _WORD_CLASSES[_word] = (*_WORD_CLASSES.get(_word, ()), f"{_PLACEHOLDER_PREFIX}{_name}")
_MOOD_CLASSES = frozenset({"zzgreeting", "zzpositive", "zznegative"})

# Words that place a message in a shop's world; a message with none of them gets `zznodomain`, the strongest
# single hint of out_of_scope (and of greetings and moods, which the model tells apart by their own words).
_DOMAIN_WORDS = frozenset(
    """shop store site website app buy bought buying purchase purchased sell sold selling order orders ordered
    ordering parcel parcels package packages delivery deliver delivered delivering ship shipping shipped ships dispatch
    dispatched courier tracking track tracked return returns returned returning refund refunds refunded exchange
    exchanges swap size sizes sizing stock restock restocked available availability price prices priced cost costs
    cheap cheaper expensive pay paid payment payments card checkout discount code codes coupon promo voucher gift gifts
    present account login log password sign signup profile invoice invoices receipt receipts vat newsletter subscribe
    unsubscribe subscribed marketing emails texts whatsapp wear wearing wore outfit outfits style styles look fabric
    fabrics material materials wash washing washed fit fits fitting collection range sale sales bestseller bestsellers
    brand customs postage dress dressed colour colours color colors wardrobe winter summer autumn fall spring cold warm
    cosy cozy wedding party holiday holidays vacation travel travelling traveling commute office work xmas christmas
    birthday bday anniversary home decor streetwear basics knitwear loungewear slippers arrivals kitchen casual smart
    layering comfy comfiest softest warmest pair matches match goes"""
    # The same world in the other five languages, accents folded ("envío" -> "envio").
    """ pedido pedidos encomenda encomendas bestellung bestellungen bestellt bestellen commande commandes commande
    ordine ordini ordinato paquete paquet colis paket pacco pacote envio envios enviado versand verschickt livraison
    livre spedizione spedito consegna entrega entregue devolucion devolver devolucao devolvo rucksendung retoure
    zuruckschicken retour renvoyer reso restituire rimborso reembolso remboursement rembourse erstattung factura
    facture rechnung fattura fatura recibo ticket quittung ricevuta talla taille grosse taglia tamanho tallas tailles
    stock lager disponible disponibile disponivel verfugbar agotado esgotado esaurito ausverkauft rupture precio prix
    preis prezzo preco pago pagar paiement payer zahlung zahlen bezahlen pagamento pagare tarjeta carte karte carta
    cartao cuenta compte konto conta contrasena passwort senha tienda boutique laden negozio loja comprar acheter
    kaufen comprare compre compra achat kauf acquisto camiseta chaqueta abrigo vestido zapatos zapatillas jersey
    sudadera vaqueros pantalones bolso jacke mantel kleid schuhe hose pullover tasche stiefel veste manteau robe
    chaussures pantalon jean pull sac bottes baskets giacca cappotto vestito scarpe maglione borsa stivali felpa
    casaco sapatos tenis camisola calcas mala botas moletom regalo geschenk cadeau presente boda hochzeit mariage
    matrimonio casamento descuento rabatt reduction sconto desconto cupon gutschein codigo code codice reclamacion
    queja beschwerde reclamation reclamo reclamacao""".split()
)

# A message made only of these words is small talk: a greeting, a thank-you or a goodbye.
_SOCIAL_WORDS = frozenset(
    """hi hii hiya hey heya heyy hello helo ello howdy yo sup gday g day greetings bonjour hola gm morning evening
    afternoon good day night thanks thank thx thnx ty ta cheers thankyou appreciated much many very so a lot bunch
    bye goodbye cya see you later soon for now take care ok okay k kk cool great perfect lovely awesome brilliant brill
    sweet nice fine alright right excellent there all team everyone guys folks mate again too to u you bot have one
    that s thats is i needed what whats up how hows are hope well doing going its it everything"""
    # Small talk in the other five languages, accents folded ("adiós" -> "adios", "tschüss" -> "tschuss").
    """ hola buenas buenos dias tardes noches gracias muchas mil adios hasta luego pronto manana vale perfecto
    que tal saludos hallo moin servus guten tag morgen abend danke schon vielen dank tschuss tschau ciao bis dann
    bald alles gute super salut mille coucou bonsoir bonne journee soiree merci beaucoup au revoir a plus bientot
    daccord parfait buongiorno buonasera salve grazie arrivederci ci vediamo perfetto ola oi bom dia boa tarde
    noite obrigado obrigada muito tchau ate logo valeu beleza""".split()
)
_GREETING_CORE = frozenset(
    """hi hii hiya hey heya heyy hello helo ello howdy yo sup gday greetings bonjour hola gm morning evening afternoon
    thanks thank thx thnx ty ta cheers thankyou appreciated bye goodbye cya hola buenas gracias adios hallo moin
    servus danke tschuss salut coucou bonsoir merci revoir ciao buongiorno buonasera salve grazie arrivederci ola
    oi obrigado obrigada tchau""".split()
)
_OPENING_FILLER = _GREETING_CORE | frozenset("there team guys all ok okay so um hmm good yes yeah again".split())

# An order number with a "where is it" word and nothing that asks for a change, a return or a document is an
# order-status question (measured: no false positives in cross-validation).
_STATUS_WORDS = frozenset(
    "where wheres status track tracking eta arrive arrived arriving shipped dispatched delivered update news happening "
    "when sent left".split()
)
_NOT_STATUS_WORDS = frozenset(
    "cancel cancell cancle change chnage edit amend modify add remove swap switch address return retrun refund exchange "
    "invoice receipt reciept vat pay paid charge charged label damaged wrong cancelar anular cambiar devolver "
    "stornieren andern zuruckschicken annuler modifier renvoyer annullare cambiare restituire alterar mudar".split()
)


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled customer message."""

    text: str
    intent: Intent
    language: Language = "en"
    source: str = "original"
    """The family of phrasings the message belongs to, e.g. `money_back`, `es_everyday`."""


@dataclass(frozen=True, slots=True)
class RoutedIntent:
    """Where one message goes, how sure the router is, and what it would have said second."""

    intent: Intent
    """The intent to act on: `FALLBACK_INTENT` when `fallback` is true."""
    confidence: float
    """Probability of `predicted`, from 0 to 1 (`RULE_CONFIDENCE` when a rule decided)."""
    runner_up: Intent
    runner_up_confidence: float
    predicted: Intent
    """The router's best guess, kept when it falls back, e.g. for the audit trail."""
    fallback: bool = False
    """True when `confidence` was under `CONFIDENCE_FLOOR`, so `intent` is `FALLBACK_INTENT`."""
    rule: str | None = None
    """Name of the rule that decided, or None when the model did."""


def load_examples(path: Path = EXAMPLES_PATH) -> list[Example]:
    """Read labelled messages from a JSON-lines file of `{"text": ..., "intent": ...}` objects, with optional
    `language` (default "en") and `source` (default "original")."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            language = row.get("language", "en")
            if language not in _LANGUAGE_CODES:
                raise ValueError(f"unknown language {language!r}")
            examples.append(
                Example(
                    text=row["text"],
                    intent=Intent(row["intent"]),
                    language=_LANGUAGE_CODES[language],
                    source=str(row.get("source", "original")),
                )
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: bad example {line!r}: {exc}") from exc
    return examples


def load_training_examples() -> list[Example]:
    """Read every file `IntentRouter.default()` trains on."""
    return [e for path in TRAINING_PATHS for e in load_examples(path)]


def load_holdout_examples() -> list[Example]:
    """Read every held-out file (never trained on)."""
    return [e for path in HOLDOUT_PATHS for e in load_examples(path)]


_LANGUAGE_CODES: dict[str, Language] = {"en": "en", "es": "es", "de": "de", "fr": "fr", "it": "it", "pt": "pt"}


def _fold(text: str) -> str:
    """Lower-case `text` without accents ("adiós" -> "adios", "Größe" -> "grosse"): shoppers drop them at will."""
    text = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    return "".join(c for c in text if not unicodedata.combining(c))


def _tokens(text: str) -> list[str]:
    text = _fold(unicodedata.normalize("NFKC", text)).replace("'", "").replace("\u2019", "")
    text = EMAIL_MENTION.sub(" zzemail ", text)
    text = SKU_MENTION.sub(" zzsku ", text)
    text = ORDER_MENTION.sub(" zzorder ", text)
    text = ORDER_AFTER_WORD_MENTION.sub(r"\1 zzorder ", text)
    text = PRICE_MENTION.sub(" zzprice ", text)
    text = PHONE_MENTION.sub(" zzphone ", text)
    text = _LONG_NUMBER.sub(" zzlongnumber ", text)
    text = _NUMBER.sub(" zznum ", text)
    text = _ELONGATION.sub(r"\1\1", text)
    return _TOKEN.findall(text)


_PRODUCT_CLASS = f"{_PLACEHOLDER_PREFIX}garment"
"""The class of words that name a product: the lexicon's clothing words, and the shop's own catalog words."""


def _features(tokens: list[str], catalog_words: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    """Return the word-level features (words, word pairs, word classes) and the character n-grams of a message.

    A word of the shop's own catalog (`catalog_words`: "table", "necklace") that no class of the lexicon claims
    joins the product class, so what the model learned about asking for a hoodie serves a table as well."""
    words = set(tokens)
    words.update(f"{a} {b}" for a, b in pairwise(tokens))
    # How the request opens ("is the...", "can i...", "where is...") once any greeting is skipped.
    start = 0
    while start < len(tokens) - 1 and tokens[start] in _OPENING_FILLER:
        start += 1
    words.update("^" + " ".join(tokens[start : start + n]) for n in (1, 2) if start + n <= len(tokens))
    classes = {name for token in tokens for name in _WORD_CLASSES.get(token, ())}
    if any(t in catalog_words and t not in _WORD_CLASSES and not _is_social(t) for t in tokens):
        classes.add(_PRODUCT_CLASS)
    words |= classes
    if not (classes - _MOOD_CLASSES) and not any(
        t in _DOMAIN_WORDS or t.startswith(_PLACEHOLDER_PREFIX) for t in tokens
    ):
        words.add("zznodomain")
    chars = set(chain.from_iterable(map(_char_ngrams, tokens)))
    return words, chars


@lru_cache(maxsize=65536)
def _char_ngrams(token: str) -> tuple[str, ...]:
    if token.startswith(_PLACEHOLDER_PREFIX):
        return ()
    padded = f" {token} "
    low, high = _CHAR_NGRAMS
    return tuple(padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1))


def _asks_order_status(tokens: list[str]) -> bool:
    present = set(tokens)
    return "zzorder" in present and bool(present & _STATUS_WORDS) and not present & _NOT_STATUS_WORDS


def _is_social(token: str) -> bool:
    return token in _SOCIAL_WORDS or _TRAILING_REPEAT.sub(r"\1", token) in _SOCIAL_WORDS


def _is_small_talk(tokens: list[str]) -> bool:
    return (
        bool(tokens) and all(map(_is_social, tokens)) and (len(tokens) <= 2 or any(t in _GREETING_CORE for t in tokens))
    )


_RULES: tuple[tuple[str, Intent, Callable[[list[str]], bool]], ...] = (
    ("small_talk", Intent.GREETING, _is_small_talk),
    ("order_number_status", Intent.ORDER_STATUS, _asks_order_status),
)
"""High-precision rules that override the model, each kept because cross-validation showed it only fixes."""


class IntentRouter:
    """Two multinomial logistic regressions, one over word and character n-grams and one over the message's
    multilingual sentence vector, their probabilities blended, behind two high-precision rules.

    The n-gram head knows the shop's words, identifiers and typos; the sentence head knows meaning across phrasings
    and across the six languages. `sentence_weight` is the sentence head's share of the blend (a geometric mean of the
    two distributions); 0, or no sentence head, or no encoder installed, leaves the n-gram head alone.

    Build one with `train()` or `default()`; `route()` is read-only, so one instance serves every thread.

    Low confidence: when the top probability is under `confidence_floor`, `route()` answers `FALLBACK_INTENT`
    (`out_of_scope`) with `fallback=True` and keeps its guess in `predicted`. The engine then replies with what it
    can help with and offers a person, instead of acting on a guess that is right about half the time. A message
    with no words at all (only emoji or punctuation) falls back the same way.
    """

    def __init__(
        self,
        *,
        word_ids: Mapping[str, int],
        char_ids: Mapping[str, int],
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        sentence_weights: np.ndarray | None = None,
        sentence_bias: np.ndarray | None = None,
        sentence_weight: float = SENTENCE_WEIGHT,
        english_words: frozenset[str] = frozenset(),
        confidence_floor: float = CONFIDENCE_FLOOR,
    ) -> None:
        if weights.shape != (len(idf), len(INTENTS)):
            raise ValueError(f"weights has shape {weights.shape}, expected {(len(idf), len(INTENTS))}")
        if sentence_weights is not None and sentence_weights.shape != (encoder.DIMENSIONS, len(INTENTS)):
            raise ValueError(f"sentence_weights has shape {sentence_weights.shape}")
        self._word_ids = dict(word_ids)
        self._char_ids = dict(char_ids)
        self._idf = idf
        self._weights = weights
        self._bias = bias
        self._sentence_weights = sentence_weights
        self._sentence_bias = np.zeros(len(INTENTS), dtype=np.float32) if sentence_bias is None else sentence_bias
        self.sentence_weight = sentence_weight if sentence_weights is not None else 0.0
        self.foreign_sentence_weight = max(self.sentence_weight, FOREIGN_SENTENCE_WEIGHT) if self.sentence_weight else 0
        self._english_words = english_words
        self.confidence_floor = confidence_floor

    @classmethod
    def train(
        cls,
        examples: Iterable[Example],
        *,
        seed: int = 0,
        sentence_weight: float = SENTENCE_WEIGHT,
        confidence_floor: float = CONFIDENCE_FLOOR,
    ) -> IntentRouter:
        """Fit a router on labelled messages; the same examples and seed give the same router.

        The sentence head reads the shipped vectors of known messages (`agents.intent_vectors`) and encodes only
        the others; `sentence_weight=0` trains no sentence head at all."""
        examples = list(examples)
        if len({e.intent for e in examples}) < 2:
            raise ValueError("examples must cover at least two intents")
        featured = [_features(_tokens(e.text)) for e in examples]
        word_df = Counter(chain.from_iterable(words for words, _ in featured))
        char_df = Counter(chain.from_iterable(chars for _, chars in featured))
        word_ids = {f: i for i, f in enumerate(word_df)}
        char_ids = {f: i + len(word_ids) for i, f in enumerate(char_df)}
        df = np.fromiter([*word_df.values(), *char_df.values()], dtype=np.float32)
        idf = (np.log((1 + len(examples)) / (1 + df)) + 1).astype(np.float32)

        # Each message's word group and character group are scaled to unit length separately, so long
        # messages (many n-grams) and short ones (few) weigh the same, and neither group drowns the other.
        indices = np.fromiter(
            chain.from_iterable(
                chain(map(word_ids.__getitem__, words), map(char_ids.__getitem__, chars)) for words, chars in featured
            ),
            dtype=np.int64,
        )
        group_lengths = np.fromiter(
            chain.from_iterable((len(words), len(chars)) for words, chars in featured), dtype=np.int64
        )
        values = idf[indices]
        values /= np.repeat(_group_norms(values, group_lengths), group_lengths)
        row_lengths = group_lengths.reshape(-1, 2).sum(axis=1)
        labels = np.array([INTENTS.index(e.intent) for e in examples], dtype=np.int64)
        weights, bias = _fit_softmax(indices, values, row_lengths, labels, n_features=len(idf), seed=seed)
        sentence_weights = sentence_bias = None
        if sentence_weight > 0:
            vectors = intent_vectors.vectors_for([e.text for e in examples])
            sentence_weights, sentence_bias = fit_dense_softmax(vectors, labels, len(INTENTS))
        by_language: dict[str, set[str]] = {}
        for example in examples:
            by_language.setdefault(example.language, set()).update(_tokens(example.text))
        english = by_language.pop("en", set())
        english_words = frozenset(english.difference(*by_language.values()))
        return cls(
            word_ids=word_ids,
            char_ids=char_ids,
            idf=idf,
            weights=weights,
            bias=bias,
            sentence_weights=sentence_weights,
            sentence_bias=sentence_bias,
            sentence_weight=sentence_weight,
            english_words=english_words,
            confidence_floor=confidence_floor,
        )

    @classmethod
    def default(cls) -> IntentRouter:
        """Return the router trained on the shipped examples, trained once per process."""
        return _default_router()

    def probabilities(self, text: str, catalog_words: frozenset[str] = frozenset()) -> np.ndarray:
        """Return the model's probability of each intent of `INTENTS` for one message."""
        return self._probabilities(text, _tokens(text), catalog_words)

    def route(self, text: str, catalog_words: frozenset[str] = frozenset()) -> RoutedIntent:
        """Pick the intent of one customer message; `catalog_words` are the shop's own product words
        (`CatalogIndex.product_words`), read as naming a product."""
        tokens = _tokens(text)
        probabilities = self._probabilities(text, tokens, catalog_words)
        order = np.argsort(probabilities)[::-1]
        if INTENTS[order[0]] is Intent.GREETING and not any(map(_is_social, tokens)):
            # Unknown words ("asdfgh", "blah") look like a one-word hello to the model; they are not one.
            order = order[1:]
        best, second = INTENTS[order[0]], INTENTS[order[1]]
        for rule, intent, applies in _RULES:
            if applies(tokens):
                runner_up = best if best is not intent else second
                return RoutedIntent(
                    intent=intent,
                    confidence=max(RULE_CONFIDENCE, float(probabilities[INTENTS.index(intent)])),
                    runner_up=runner_up,
                    runner_up_confidence=float(probabilities[INTENTS.index(runner_up)]),
                    predicted=intent,
                    rule=rule,
                )
        confidence = float(probabilities[order[0]])
        fallback = confidence < self.confidence_floor or not tokens
        return RoutedIntent(
            intent=FALLBACK_INTENT if fallback else best,
            confidence=confidence,
            runner_up=second,
            runner_up_confidence=float(probabilities[order[1]]),
            predicted=best,
            fallback=fallback,
        )

    def _probabilities(self, text: str, tokens: list[str], catalog_words: frozenset[str]) -> np.ndarray:
        n_gram = self._n_gram_probabilities(tokens, catalog_words)
        if self._sentence_weights is None or self.sentence_weight <= 0 or not tokens:
            return n_gram
        vector = intent_vectors.sentence_vector(text)
        if vector is None:
            return n_gram
        sentence = softmax(vector @ self._sentence_weights + self._sentence_bias)
        share = self._sentence_share(tokens)
        return softmax((1 - share) * np.log(n_gram + 1e-9) + share * np.log(sentence + 1e-9))

    def _sentence_share(self, tokens: list[str]) -> float:
        """The sentence head's share for this message: more the less of it is English the n-gram head knows."""
        words = [t for t in tokens if not t.startswith(_PLACEHOLDER_PREFIX)]
        if not words or not self._english_words:
            return self.sentence_weight
        english = sum(t in self._english_words for t in words) / len(words)
        trust = min(1.0, english / _ENGLISH_SHARE_FOR_FULL_TRUST)
        return self.foreign_sentence_weight - (self.foreign_sentence_weight - self.sentence_weight) * trust

    def _n_gram_probabilities(self, tokens: list[str], catalog_words: frozenset[str]) -> np.ndarray:
        words, chars = _features(tokens, catalog_words)
        scores = self._bias.copy()
        for vocabulary, group in ((self._word_ids, words), (self._char_ids, chars)):
            ids = [vocabulary[f] for f in group if f in vocabulary]
            if ids:
                values = self._idf[ids]
                values /= math.sqrt(float(values @ values))
                scores += values @ self._weights[ids]
        return softmax(scores)


@cache
def _default_router() -> IntentRouter:
    return IntentRouter.train(load_training_examples())


def _group_norms(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the Euclidean norm of each consecutive run of `values`; 1 for an empty run."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    nonempty = lengths > 0
    norms = np.ones(len(lengths), dtype=values.dtype)
    norms[nonempty] = np.sqrt(np.add.reduceat(values * values, starts[nonempty]))
    return norms


def _fit_softmax(
    indices: np.ndarray,
    values: np.ndarray,
    row_lengths: np.ndarray,
    labels: np.ndarray,
    *,
    n_features: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit softmax regression on sparse rows by mini-batch SGD with a linearly decaying step; return (W, b).

    Rows are given as concatenated `indices`/`values` with `row_lengths`; no row may be empty. Numpy only:
    scipy and scikit-learn cost seconds of import time on a chat host for a model that trains in a fraction of one.
    """
    n_rows, n_classes = len(row_lengths), len(INTENTS)
    weights = np.zeros(n_features * n_classes, dtype=np.float32)
    matrix = weights.reshape(n_features, n_classes)  # a view: row gathers read what flat scatters write
    bias = np.zeros(n_classes, dtype=np.float32)
    targets = np.eye(n_classes, dtype=np.float32)[labels]
    row_starts = np.concatenate([[0], np.cumsum(row_lengths)[:-1]])
    class_offsets = np.arange(n_classes)
    rng = np.random.default_rng(seed)
    total_steps = _EPOCHS * math.ceil(n_rows / _BATCH)
    step = 0
    for _ in range(_EPOCHS):
        order = rng.permutation(n_rows)
        # Lay the rows out in this epoch's order once, so every batch is a contiguous slice.
        lengths = row_lengths[order]
        ends = np.cumsum(lengths)
        gather = np.repeat(row_starts[order] - (ends - lengths), lengths) + np.arange(ends[-1])
        rows = indices[gather]
        flat = (rows[:, None] * n_classes + class_offsets).ravel()
        vals = values[gather]
        row_of = np.repeat(np.arange(n_rows), lengths)
        for first in range(0, n_rows, _BATCH):
            last = min(first + _BATCH, n_rows)
            lo = ends[first] - lengths[first]
            hi = ends[last - 1]
            batch_flat = flat[lo * n_classes : hi * n_classes]
            batch_vals = vals[lo:hi, None]
            contributions = np.take(matrix, rows[lo:hi], axis=0) * batch_vals
            starts = ends[first:last] - lengths[first:last] - lo
            scores = np.add.reduceat(contributions, starts, axis=0) + bias
            gradient = (softmax(scores) - targets[order[first:last]]) / (last - first)
            rate = _LEARNING_RATE * (1 - step / total_steps)
            np.add.at(weights, batch_flat, (-rate * gradient[row_of[lo:hi] - first] * batch_vals).ravel())
            bias -= rate * gradient.sum(axis=0)
            step += 1
    return weights.reshape(n_features, n_classes), bias
