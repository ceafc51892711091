"""Which language a shopper writes in: told from the message's own words, never from product names or identifiers,
and kept from the conversation when a message is too short to tell."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.languages import detect_language, reply_language
from hub.tenancy.config import TenantConfig

WRITTEN = [
    ("en", "Hi, could you tell me when my parcel will arrive?"),
    ("en", "I want my money back"),
    ("en", "what do I pay if I cancel"),
    ("en", "can i pay with paypal"),
    ("es", "¿Cuánto tarda el envío a Valencia?"),
    ("es", "quiero devolver los vaqueros, no me quedan bien"),
    ("es", "hola, tienen sudaderas negras en talla L"),
    ("de", "Wann kommt meine Bestellung an?"),
    ("de", "ich möchte die Schuhe zurückgeben, sie sind zu klein"),
    ("de", "Habt ihr den Pulli auch in Grau?"),
    ("fr", "Bonjour, où en est ma commande ?"),
    ("fr", "je voudrais être remboursée svp"),
    ("fr", "Vous livrez en Belgique ?"),
    ("it", "Quando arriva il mio ordine?"),
    ("it", "vorrei cambiare l'indirizzo di consegna"),
    ("it", "avete questa felpa in blu?"),
    ("pt", "Quando chega a minha encomenda?"),
    ("pt", "quero trocar o tamanho das calças"),
    ("pt", "vocês enviam para o Porto?"),
]


@pytest.mark.parametrize(("language", "text"), WRITTEN)
def test_a_message_is_told_by_its_own_words(language: str, text: str) -> None:
    detection = detect_language(text, fallback="en")
    assert (detection.language, detection.confident) == (language, True), text


@pytest.mark.parametrize(
    ("language", "text"),
    [("es", "gracias"), ("fr", "merci"), ("de", "danke"), ("it", "grazie"), ("pt", "obrigado"), ("es", "hola")],
)
def test_a_one_word_thanks_or_hello_says_its_language(language: str, text: str) -> None:
    assert detect_language(text, fallback="en").language == language


def test_english_product_names_in_a_spanish_sentence_do_not_make_it_english() -> None:
    catalog = {"slub", "cotton", "crew", "tee", "heavyweight", "hoodie", "washed", "black"}
    text = "¿tienen la Slub Cotton Crew Tee en talla XL?"
    assert detect_language(text, fallback="en", ignore=catalog).language == "es"
    camel = {"gabardine", "trench", "coat", "camel"}
    assert detect_language("Quanto costa il Gabardine Trench Coat — Camel?", ignore=camel).language == "it"
    text = "Does the Heavyweight Washed Black Hoodie come in other colours?"
    assert detect_language(text, fallback="es", ignore=catalog).language == "en"


@pytest.mark.parametrize("text", ["ok", "A-10234", "ana@example.com", "SKU-1042", "€39,90", "👍", "   ", "L"])
def test_a_message_with_nothing_to_tell_keeps_the_conversation_language(text: str) -> None:
    detection = detect_language(text, fallback="de")
    assert (detection.language, detection.confident) == ("de", False)


def test_a_shop_answers_in_its_default_when_it_does_not_speak_the_shoppers_language() -> None:
    assert reply_language("fr", languages=["en", "es"], default="es") == "es"
    assert reply_language("es", languages=["en", "es"], default="en") == "es"


def test_a_shop_speaks_every_language_by_default_and_its_default_must_be_one_it_speaks() -> None:
    config = TenantConfig()
    assert config.languages == ["en", "es", "de", "fr", "it", "pt"] and config.default_language == "en"
    assert TenantConfig.model_validate({"languages": ["es", "es"], "default_language": "es"}).languages == ["es"]
    with pytest.raises(ValidationError, match="default_language"):
        TenantConfig.model_validate({"languages": ["es"], "default_language": "en"})
    with pytest.raises(ValidationError):
        TenantConfig.model_validate({"languages": ["nl"]})
