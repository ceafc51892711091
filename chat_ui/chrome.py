"""What the channels write around the assistant's replies, in the six languages: the widget's buttons, labels, stock
lines and error notes, and WhatsApp's rating buttons and thanks.

The replies themselves come from the engine's catalogs (`agents.replies`) or the model; these are the words of the
channels' own furniture, which a Spanish shopper should not meet in English. `{name}` marks a value the widget fills
in (`{shop}`, `{count}`, `{seconds}`, `{label}`); every language carries the same ones (a unit test checks).
"""

from __future__ import annotations

from collections.abc import Iterable

from hub.languages import DEFAULT_LANGUAGE, Language, spoken

WIDGET_TEXT: dict[Language, dict[str, str]] = {
    "en": {
        "open_chat": "Open chat",
        "close_chat": "Close chat",
        "chat_with_us": "Chat with us",
        "chat_with_shop": "Chat with {shop}",
        "greeting": "Hi! Ask me about our products, your order, delivery or returns.",
        "talk_to_human": "Talk to a human",
        "handoff_message": "I'd like to talk to a human, please.",
        "placeholder": "Ask about a product or your order",
        "message": "Message",
        "send": "Send",
        "out_of_stock": "Out of stock",
        "low_stock": "Low stock: only {count} left",
        "in_stock": "In stock: {count} available",
        "helpful": "Helpful",
        "not_helpful": "Not helpful",
        "rate_reply": "Rate this reply",
        "rating_thanks": "Thanks for your feedback!",
        "rating_failed": "Couldn't send your rating. Please try again.",
        "suggested_replies": "Suggested replies",
        "reply_with": "Reply: {label}",
        "too_fast": "You're sending messages faster than we can answer. Please try again in {seconds} seconds.",
        "busy": "I'm still answering your previous message. Please send this one again in a moment.",
        "unavailable": "Sorry, this chat is not available on this site.",
        "went_wrong": "Sorry, something went wrong on our side. Please try again.",
        "cut_off": "The answer was cut off. Please try again.",
        "unreachable": "We couldn't reach the shop's assistant. Please check your connection and try again.",
    },
    "es": {
        "open_chat": "Abrir chat",
        "close_chat": "Cerrar chat",
        "chat_with_us": "Chatea con nosotros",
        "chat_with_shop": "Chatea con {shop}",
        "greeting": "¡Hola! Pregúntame por nuestros productos, tu pedido, los envíos o las devoluciones.",
        "talk_to_human": "Hablar con una persona",
        "handoff_message": "Quiero hablar con una persona, por favor.",
        "placeholder": "Pregunta por un producto o tu pedido",
        "message": "Mensaje",
        "send": "Enviar",
        "out_of_stock": "Agotado",
        "low_stock": "Pocas unidades: solo quedan {count}",
        "in_stock": "En stock: {count} disponibles",
        "helpful": "Útil",
        "not_helpful": "No útil",
        "rate_reply": "Valora esta respuesta",
        "rating_thanks": "¡Gracias por tu opinión!",
        "rating_failed": "No se pudo enviar tu valoración. Inténtalo de nuevo.",
        "suggested_replies": "Respuestas sugeridas",
        "reply_with": "Responder: {label}",
        "too_fast": "Estás enviando mensajes más rápido de lo que podemos responder. Inténtalo de nuevo en {seconds} "
        "segundos.",
        "busy": "Todavía estoy respondiendo a tu mensaje anterior. Envía este de nuevo en un momento.",
        "unavailable": "Lo sentimos, este chat no está disponible en este sitio.",
        "went_wrong": "Lo sentimos, algo ha fallado por nuestra parte. Inténtalo de nuevo.",
        "cut_off": "La respuesta se cortó. Inténtalo de nuevo.",
        "unreachable": "No pudimos contactar con el asistente de la tienda. Comprueba tu conexión e inténtalo de nuevo.",
    },
    "de": {
        "open_chat": "Chat öffnen",
        "close_chat": "Chat schließen",
        "chat_with_us": "Chatte mit uns",
        "chat_with_shop": "Chat mit {shop}",
        "greeting": "Hallo! Frag mich zu unseren Produkten, deiner Bestellung, dem Versand oder Rücksendungen.",
        "talk_to_human": "Mit einem Menschen sprechen",
        "handoff_message": "Ich möchte bitte mit einem Menschen sprechen.",
        "placeholder": "Frag nach einem Produkt oder deiner Bestellung",
        "message": "Nachricht",
        "send": "Senden",
        "out_of_stock": "Ausverkauft",
        "low_stock": "Nur noch {count} auf Lager",
        "in_stock": "Auf Lager: {count} verfügbar",
        "helpful": "Hilfreich",
        "not_helpful": "Nicht hilfreich",
        "rate_reply": "Diese Antwort bewerten",
        "rating_thanks": "Danke für dein Feedback!",
        "rating_failed": "Deine Bewertung konnte nicht gesendet werden. Bitte versuche es noch einmal.",
        "suggested_replies": "Vorgeschlagene Antworten",
        "reply_with": "Antworten: {label}",
        "too_fast": "Du sendest Nachrichten schneller, als wir antworten können. Bitte versuche es in {seconds} "
        "Sekunden noch einmal.",
        "busy": "Ich beantworte noch deine letzte Nachricht. Bitte sende diese gleich noch einmal.",
        "unavailable": "Dieser Chat ist auf dieser Seite leider nicht verfügbar.",
        "went_wrong": "Leider ist bei uns etwas schiefgelaufen. Bitte versuche es noch einmal.",
        "cut_off": "Die Antwort wurde abgeschnitten. Bitte versuche es noch einmal.",
        "unreachable": "Wir konnten den Assistenten des Shops nicht erreichen. Bitte prüfe deine Verbindung und "
        "versuche es noch einmal.",
    },
    "fr": {
        "open_chat": "Ouvrir le chat",
        "close_chat": "Fermer le chat",
        "chat_with_us": "Discutez avec nous",
        "chat_with_shop": "Discuter avec {shop}",
        "greeting": "Bonjour ! Posez-moi vos questions sur nos produits, votre commande, la livraison ou les retours.",
        "talk_to_human": "Parler à une personne",
        "handoff_message": "Je voudrais parler à une personne, s'il vous plaît.",
        "placeholder": "Une question sur un produit ou votre commande ?",
        "message": "Message",
        "send": "Envoyer",
        "out_of_stock": "Rupture de stock",
        "low_stock": "Stock limité : plus que {count}",
        "in_stock": "En stock : {count} disponibles",
        "helpful": "Utile",
        "not_helpful": "Pas utile",
        "rate_reply": "Évaluer cette réponse",
        "rating_thanks": "Merci pour votre avis !",
        "rating_failed": "Votre évaluation n'a pas pu être envoyée. Veuillez réessayer.",
        "suggested_replies": "Réponses suggérées",
        "reply_with": "Répondre : {label}",
        "too_fast": "Vous envoyez des messages plus vite que nous ne pouvons répondre. Réessayez dans {seconds} "
        "secondes.",
        "busy": "Je réponds encore à votre message précédent. Renvoyez celui-ci dans un instant.",
        "unavailable": "Désolé, ce chat n'est pas disponible sur ce site.",
        "went_wrong": "Désolé, un problème est survenu de notre côté. Veuillez réessayer.",
        "cut_off": "La réponse a été interrompue. Veuillez réessayer.",
        "unreachable": "Impossible de joindre l'assistant de la boutique. Vérifiez votre connexion et réessayez.",
    },
    "it": {
        "open_chat": "Apri la chat",
        "close_chat": "Chiudi la chat",
        "chat_with_us": "Scrivici",
        "chat_with_shop": "Chatta con {shop}",
        "greeting": "Ciao! Chiedimi dei nostri prodotti, del tuo ordine, delle spedizioni o dei resi.",
        "talk_to_human": "Parla con una persona",
        "handoff_message": "Vorrei parlare con una persona, per favore.",
        "placeholder": "Chiedi di un prodotto o del tuo ordine",
        "message": "Messaggio",
        "send": "Invia",
        "out_of_stock": "Esaurito",
        "low_stock": "Ultimi pezzi: ne restano solo {count}",
        "in_stock": "Disponibile: {count} pezzi",
        "helpful": "Utile",
        "not_helpful": "Non utile",
        "rate_reply": "Valuta questa risposta",
        "rating_thanks": "Grazie per il tuo feedback!",
        "rating_failed": "Impossibile inviare la valutazione. Riprova.",
        "suggested_replies": "Risposte suggerite",
        "reply_with": "Rispondi: {label}",
        "too_fast": "Stai inviando messaggi più velocemente di quanto riusciamo a rispondere. Riprova tra {seconds} "
        "secondi.",
        "busy": "Sto ancora rispondendo al tuo messaggio precedente. Invia di nuovo questo tra un momento.",
        "unavailable": "Spiacenti, questa chat non è disponibile su questo sito.",
        "went_wrong": "Spiacenti, qualcosa è andato storto da parte nostra. Riprova.",
        "cut_off": "La risposta si è interrotta. Riprova.",
        "unreachable": "Non riusciamo a raggiungere l'assistente del negozio. Controlla la connessione e riprova.",
    },
    "pt": {
        "open_chat": "Abrir o chat",
        "close_chat": "Fechar o chat",
        "chat_with_us": "Fale connosco",
        "chat_with_shop": "Conversar com {shop}",
        "greeting": "Olá! Pergunte-me sobre os nossos produtos, a sua encomenda, as entregas ou as devoluções.",
        "talk_to_human": "Falar com uma pessoa",
        "handoff_message": "Gostaria de falar com uma pessoa, por favor.",
        "placeholder": "Pergunte sobre um produto ou a sua encomenda",
        "message": "Mensagem",
        "send": "Enviar",
        "out_of_stock": "Esgotado",
        "low_stock": "Stock baixo: só restam {count}",
        "in_stock": "Em stock: {count} disponíveis",
        "helpful": "Útil",
        "not_helpful": "Não foi útil",
        "rate_reply": "Avaliar esta resposta",
        "rating_thanks": "Obrigado pela sua opinião!",
        "rating_failed": "Não foi possível enviar a sua avaliação. Tente novamente.",
        "suggested_replies": "Respostas sugeridas",
        "reply_with": "Responder: {label}",
        "too_fast": "Está a enviar mensagens mais depressa do que conseguimos responder. Tente novamente dentro de "
        "{seconds} segundos.",
        "busy": "Ainda estou a responder à sua mensagem anterior. Envie esta novamente daqui a pouco.",
        "unavailable": "Lamentamos, este chat não está disponível neste site.",
        "went_wrong": "Lamentamos, algo correu mal do nosso lado. Tente novamente.",
        "cut_off": "A resposta foi interrompida. Tente novamente.",
        "unreachable": "Não foi possível contactar o assistente da loja. Verifique a sua ligação e tente novamente.",
    },
}
"""The widget's own words per language: its `T` table, English when the shop does not speak the shopper's."""

RATING_TEXT: dict[Language, tuple[str, str, str]] = {
    "en": ("👍 Helpful", "👎 Not helpful", "Thanks for your feedback! It helps us get better."),
    "es": ("👍 Útil", "👎 No útil", "¡Gracias por tu opinión! Nos ayuda a mejorar."),
    "de": ("👍 Hilfreich", "👎 Nicht hilfreich", "Danke für dein Feedback! Es hilft uns, besser zu werden."),
    "fr": ("👍 Utile", "👎 Pas utile", "Merci pour votre avis ! Il nous aide à nous améliorer."),
    "it": ("👍 Utile", "👎 Non utile", "Grazie per il tuo feedback! Ci aiuta a migliorare."),
    "pt": ("👍 Útil", "👎 Não foi útil", "Obrigado pela sua opinião! Ajuda-nos a melhorar."),
}
"""WhatsApp's two rating buttons (titles of at most 20 characters) and the thanks after a tap, per language."""


def widget_language(asked: Iterable[str], *, languages: Iterable[Language], default: Language) -> Language:
    """The language of the widget's words: the first of the browser's `asked` languages (BCP 47 tags, most wanted
    first, as `navigator.languages` or Accept-Language give them) that the shop speaks, else its default. A
    regional tag reads as its language (`de-AT` is German)."""
    shop = set(languages)
    for tag in asked:
        language = spoken(tag.strip().replace("_", "-").partition("-")[0])
        if language is not None and language in shop:
            return language
    return default


def accepted(header: str | None) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (`q=0` ones left out)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def rating_text(language: str | None) -> tuple[str, str, str]:
    """WhatsApp's rating buttons and thanks in `language` (English for one HUB does not speak)."""
    return RATING_TEXT[spoken(language) or DEFAULT_LANGUAGE]
