/*
 * HUB storefront chat widget: one script tag adds a chat bubble that talks to the shop's assistant.
 *
 *   <script src="https://hub.example/widget.js" data-key="STOREFRONT_KEY"></script>
 *
 * Plain JavaScript, no dependencies. Everything the model or the catalog writes is shown with
 * textContent / createTextNode only, never parsed as HTML. The widget lives in a shadow root, so the
 * page's styles do not leak in and its own do not leak out.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector('script[src*="/widget.js"][data-key]');
  if (!script) return;
  var KEY = (script.getAttribute("data-key") || "").trim();
  var API = new URL(script.src, window.location.href).origin;
  var HOST_ID = "hub-chat-widget";
  // The widget's own words: English until GET /v1/chat/text answers in the shopper's language (if the shop speaks it).
  var T = {
    open_chat: "Open chat",
    close_chat: "Close chat",
    chat_with_us: "Chat with us",
    chat_with_shop: "Chat with {shop}",
    greeting: "Hi! Ask me about our products, your order, delivery or returns.",
    talk_to_human: "Talk to a human",
    handoff_message: "I'd like to talk to a human, please.",
    placeholder: "Ask about a product or your order",
    message: "Message",
    send: "Send",
    out_of_stock: "Out of stock",
    low_stock: "Low stock: only {count} left",
    in_stock: "In stock: {count} available",
    helpful: "Helpful",
    not_helpful: "Not helpful",
    rate_reply: "Rate this reply",
    rating_thanks: "Thanks for your feedback!",
    rating_failed: "Couldn't send your rating. Please try again.",
    suggested_replies: "Suggested replies",
    reply_with: "Reply: {label}",
    too_fast: "You're sending messages faster than we can answer. Please try again in {seconds} seconds.",
    busy: "I'm still answering your previous message. Please send this one again in a moment.",
    unavailable: "Sorry, this chat is not available on this site.",
    went_wrong: "Sorry, something went wrong on our side. Please try again.",
    cut_off: "The answer was cut off. Please try again.",
    unreachable: "We couldn't reach the shop's assistant. Please check your connection and try again.",
  };

  function t(name, values) {
    return String(T[name]).replace(/\{(\w+)\}/g, function (whole, key) {
      return values && values[key] !== undefined ? String(values[key]) : whole;
    });
  }
  var MAX_STORED_MESSAGES = 60;
  var SESSION_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
  var COLOUR_PATTERN = /^#[0-9A-Fa-f]{6}$/;
  var SVG_NS = "http://www.w3.org/2000/svg";

  if (!KEY) {
    console.warn("HUB chat widget: the script tag needs a data-key attribute with the shop's storefront key.");
    return;
  }
  if (document.getElementById(HOST_ID)) return; // the tag was included twice

  // --- storage: one session per shop key, kept across page loads -----------------------------------

  var STORE_KEY = "hub-chat:" + API + ":" + KEY;
  var memoryStore = null; // when localStorage is unavailable (privacy mode, sandboxed frame)

  function loadState() {
    var raw = null;
    try {
      raw = JSON.parse(window.localStorage.getItem(STORE_KEY) || "null");
    } catch (err) {
      raw = memoryStore;
    }
    var state = raw && typeof raw === "object" ? raw : {};
    return {
      session: typeof state.session === "string" && SESSION_PATTERN.test(state.session) ? state.session : newSessionId(),
      open: state.open === true,
      messages: Array.isArray(state.messages) ? state.messages.filter(isStoredMessage).slice(-MAX_STORED_MESSAGES) : [],
      humanSince: typeof state.humanSince === "string" ? state.humanSince : null,
    };
  }

  function saveState() {
    state.messages = state.messages.slice(-MAX_STORED_MESSAGES);
    memoryStore = state;
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (err) {
      /* quota or privacy mode: the conversation lives as long as the page */
    }
  }

  function newSessionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "w-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function isStoredMessage(msg) {
    return msg && typeof msg === "object" && typeof msg.text === "string" &&
      (msg.from === "shopper" || msg.from === "assistant" || msg.from === "human" || msg.from === "notice");
  }

  var state = loadState();

  // --- DOM helpers: text only ------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(pathData) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var CSS = [
    ":host { all: initial; --hub-primary: #1F2937; --hub-accent: #F59E0B; }",
    "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%;",
    "  border: none; background: var(--hub-primary); color: #fff; cursor: pointer; z-index: 2147483000;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; }",
    ".launcher:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid var(--hub-accent); outline-offset: 2px; }",
    ".panel { position: fixed; right: 20px; bottom: 88px; width: 370px; max-width: calc(100vw - 24px);",
    "  height: 560px; max-height: calc(100vh - 108px); background: #fff; color: #111827; border-radius: 14px;",
    "  box-shadow: 0 12px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden;",
    "  z-index: 2147483000; font-size: 14px; line-height: 1.45; }",
    ".panel[hidden] { display: none; }",
    ".header { background: var(--hub-primary); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }",
    ".title { font-weight: 600; font-size: 15px; flex: 1; }",
    ".close { background: none; border: none; color: #fff; font-size: 22px; line-height: 1; cursor: pointer; padding: 0 4px; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #F9FAFB; }",
    ".msg { max-width: 88%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".msg.shopper { align-self: flex-end; background: var(--hub-primary); color: #fff; border-bottom-right-radius: 4px; }",
    ".msg.assistant { align-self: flex-start; background: #fff; border: 1px solid #E5E7EB; border-bottom-left-radius: 4px; }",
    ".msg.human { align-self: flex-start; background: #ECFDF5; border: 1px solid #A7F3D0; border-bottom-left-radius: 4px; }",
    ".msg.human::before { content: 'Team'; display: block; font-size: 11px; font-weight: 600; color: #047857; }",
    ".msg.notice { align-self: center; background: #FEF3C7; color: #78350F; font-size: 13px; text-align: center; }",
    ".typing::after { content: '\\2026'; animation: hub-blink 1s infinite; }",
    "@keyframes hub-blink { 50% { opacity: .3; } }",
    ".cards { display: flex; flex-direction: column; gap: 8px; margin-top: 8px; white-space: normal; }",
    ".card { display: flex; gap: 10px; border: 1px solid #E5E7EB; border-radius: 10px; padding: 8px; background: #fff; }",
    ".card img { width: 64px; height: 64px; object-fit: cover; border-radius: 8px; background: #F3F4F6; flex: none; }",
    ".card .photo-missing { width: 64px; height: 64px; border-radius: 8px; background: #F3F4F6; flex: none; }",
    ".card-body { display: flex; flex-direction: column; gap: 2px; min-width: 0; }",
    ".card-title { font-weight: 600; }",
    ".card-sku { color: #6B7280; font-size: 12px; }",
    ".card-price { color: var(--hub-primary); font-weight: 600; }",
    ".card-stock { font-size: 12px; }",
    ".card-stock.in_stock { color: #047857; } .card-stock.low { color: #B45309; } .card-stock.out_of_stock { color: #B91C1C; }",
    ".footer { border-top: 1px solid #E5E7EB; padding: 8px; display: flex; flex-direction: column; gap: 6px; background: #fff; }",
    ".handoff { align-self: flex-start; background: none; border: 1px solid var(--hub-accent); color: #111827;",
    "  border-radius: 999px; padding: 3px 10px; font-size: 12px; cursor: pointer; }",
    "form { display: flex; gap: 6px; margin: 0; }",
    "input { flex: 1; border: 1px solid #D1D5DB; border-radius: 8px; padding: 8px 10px; font-size: 14px; color: #111827; background: #fff; }",
    ".send { background: var(--hub-accent); color: #111827; border: none; border-radius: 8px; padding: 0 14px; font-weight: 600; cursor: pointer; }",
    "button:disabled { opacity: .5; cursor: default; }",
    ".choices { align-self: flex-start; max-width: 88%; display: flex; flex-wrap: wrap; gap: 6px; }",
    ".choice { background: #fff; border: 1px solid var(--hub-accent); color: #111827; border-radius: 16px;",
    "  padding: 6px 12px; min-height: 32px; font-size: 13px; line-height: 1.3; cursor: pointer; text-align: left;",
    "  max-width: 100%; overflow-wrap: anywhere; display: flex; flex-direction: column; justify-content: center; }",
    ".choice:hover { background: #FFFBEB; }",
    ".choice-detail { color: #6B7280; font-size: 12px; }",
    ".rating { display: flex; align-items: center; gap: 4px; margin-top: 6px; white-space: normal; }",
    ".rate { background: none; border: 1px solid #E5E7EB; border-radius: 999px; padding: 1px 8px; font-size: 13px;",
    "  line-height: 1.4; cursor: pointer; color: #111827; }",
    ".rate:hover:not(:disabled) { background: #F3F4F6; }",
    ".rate[aria-pressed='true'] { border-color: var(--hub-accent); background: #FFFBEB; }",
    ".rating-note { color: #6B7280; font-size: 12px; margin-left: 4px; }",
  ].join("\n");

  // --- the widget's DOM --------------------------------------------------------------------------------

  var host = el("div");
  host.id = HOST_ID;
  var root = host.attachShadow({ mode: "open" });
  var style = el("style", null, CSS);

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"));

  var panel = el("section", "panel");
  panel.setAttribute("role", "dialog");
  panel.hidden = true;

  var header = el("div", "header");
  var title = el("div", "title");
  var close = el("button", "close", "\u00d7");
  close.type = "button";
  header.appendChild(title);
  header.appendChild(close);

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");

  var footer = el("div", "footer");
  var handoff = el("button", "handoff");
  handoff.type = "button";
  var form = el("form");
  var input = el("input");
  input.type = "text";
  input.maxLength = 4000;
  input.autocomplete = "off";
  var sendButton = el("button", "send");
  sendButton.type = "submit";
  form.appendChild(input);
  form.appendChild(sendButton);
  footer.appendChild(handoff);
  footer.appendChild(form);
  writeLabels();

  panel.appendChild(header);
  panel.appendChild(log);
  panel.appendChild(footer);
  root.appendChild(style);
  root.appendChild(panel);
  root.appendChild(launcher);

  // --- rendering -----------------------------------------------------------------------------------------

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function messageNode(from, text) {
    var node = el("div", "msg " + from);
    node.dataset.from = from;
    var body = el("span", "text");
    if (text) body.appendChild(document.createTextNode(text));
    node.appendChild(body);
    log.appendChild(node);
    scrollToEnd();
    return { node: node, body: body };
  }

  function formatPrice(price, currency) {
    var amount = Number(price);
    if (!isFinite(amount)) return String(price);
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: String(currency || "USD") }).format(amount);
    } catch (err) {
      return amount.toFixed(2) + " " + String(currency || "");
    }
  }

  function stockText(product) {
    var stock = Number(product.stock);
    if (product.stock_level === "out_of_stock" || stock <= 0) return t("out_of_stock");
    if (product.stock_level === "low") return t("low_stock", { count: stock });
    return t("in_stock", { count: stock });
  }

  var imageUrls = {};

  function productImage(sku) {
    if (!imageUrls[sku]) {
      imageUrls[sku] = fetch(API + "/v1/chat/products/" + encodeURIComponent(sku) + "/image", {
        headers: { "X-Hub-Key": KEY },
      }).then(function (res) {
        if (!res.ok) throw new Error("no photo");
        return res.blob();
      }).then(function (blob) {
        if (!/^image\//.test(blob.type)) throw new Error("not an image");
        return URL.createObjectURL(blob);
      });
      imageUrls[sku].catch(function () { delete imageUrls[sku]; });
    }
    return imageUrls[sku];
  }

  function productCard(product) {
    var card = el("div", "card");
    card.dataset.sku = String(product.sku);
    if (product.image_path) {
      var img = el("img");
      img.alt = String(product.title);
      img.width = 64;
      img.height = 64;
      card.appendChild(img);
      productImage(String(product.sku)).then(function (url) {
        img.src = url;
      }, function () {
        img.replaceWith(el("div", "photo-missing"));
      });
    } else {
      card.appendChild(el("div", "photo-missing"));
    }
    var body = el("div", "card-body");
    body.appendChild(el("div", "card-title", product.title));
    body.appendChild(el("div", "card-sku", product.sku));
    body.appendChild(el("div", "card-price", formatPrice(product.price, product.currency)));
    var stock = el("div", "card-stock", stockText(product));
    var level = String(product.stock_level).replace(/[^a-z_]/g, "");
    if (level) stock.classList.add(level);
    body.appendChild(stock);
    card.appendChild(body);
    return card;
  }

  function showProducts(node, products) {
    if (!products.length) return;
    var cards = el("div", "cards");
    products.forEach(function (product) {
      if (product && typeof product === "object" && product.sku !== undefined) cards.appendChild(productCard(product));
    });
    node.appendChild(cards);
    scrollToEnd();
  }

  function slimProduct(p) {
    return {
      sku: String(p.sku), title: String(p.title), price: String(p.price), currency: String(p.currency),
      stock: Number(p.stock), stock_level: String(p.stock_level), image_path: p.image_path ? String(p.image_path) : null,
    };
  }

  function renderStored(msg) {
    var shown = messageNode(msg.from, msg.text);
    if (msg.from === "assistant" && Array.isArray(msg.products)) showProducts(shown.node, msg.products);
    if (msg.from === "assistant") showRating(shown.node, msg);
    shown.node.dataset.state = "done";
  }

  // Thumbs under each finished reply: the shopper rates it once; the shop reviews the ones rated down.
  var RATINGS = [
    { value: "up", symbol: "\ud83d\udc4d", label: "helpful" },
    { value: "down", symbol: "\ud83d\udc4e", label: "not_helpful" },
  ];

  function showRating(node, msg) {
    if (typeof msg.id !== "string" || !msg.id) return;
    var bar = el("div", "rating");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", t("rate_reply"));
    var note = el("span", "rating-note");
    note.setAttribute("role", "status");
    var buttons = RATINGS.map(function (r) {
      var button = el("button", "rate", r.symbol);
      button.type = "button";
      button.dataset.rating = r.value;
      button.setAttribute("aria-label", t(r.label));
      button.title = t(r.label);
      button.setAttribute("aria-pressed", msg.rated === r.value ? "true" : "false");
      button.addEventListener("click", function () { rate(msg, r.value, buttons, note); });
      bar.appendChild(button);
      return button;
    });
    bar.appendChild(note);
    if (msg.rated) settleRating(buttons, note, msg.rated);
    node.appendChild(bar);
  }

  function settleRating(buttons, note, rated) {
    buttons.forEach(function (b) {
      b.disabled = true;
      b.setAttribute("aria-pressed", b.dataset.rating === rated ? "true" : "false");
    });
    note.textContent = t("rating_thanks");
  }

  async function rate(msg, value, buttons, note) {
    if (msg.rated) return;
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      var res = await fetch(API + "/v1/chat/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Hub-Key": KEY },
        body: JSON.stringify({ session_id: state.session, message_id: msg.id, rating: value }),
      });
      if (!res.ok) throw new Error("HTTP " + res.status);
      var body = await res.json();
      msg.rated = body && (body.rating === "up" || body.rating === "down") ? body.rating : value;
      saveState();
      settleRating(buttons, note, msg.rated);
    } catch (err) {
      buttons.forEach(function (b) { b.disabled = false; });
      note.textContent = t("rating_failed");
    }
  }

  // Quick replies: the choices the assistant offers with its latest message (confirm or not, which item, why).
  // Choosing one sends its title, as if the shopper had typed it; any new message takes them away.
  var choices = null;

  function slimChoices(list) {
    if (!Array.isArray(list)) return [];
    return list.filter(function (c) {
      return c && typeof c === "object" && typeof c.title === "string" && c.title.trim();
    }).slice(0, 20).map(function (c) {
      var slim = { id: String(c.id), title: c.title };
      if (typeof c.description === "string" && c.description) slim.description = c.description;
      return slim;
    });
  }

  function clearChoices() {
    if (choices) choices.remove();
    choices = null;
  }

  function showChoices(list) {
    clearChoices();
    if (!list.length) return;
    choices = el("div", "choices");
    choices.setAttribute("role", "group");
    choices.setAttribute("aria-label", t("suggested_replies"));
    list.forEach(function (choice) {
      var button = el("button", "choice");
      button.type = "button";
      button.dataset.choice = choice.id;
      button.appendChild(el("span", "choice-title", choice.title));
      var label = choice.title;
      if (choice.description) {
        button.appendChild(el("span", "choice-detail", choice.description));
        label += ", " + choice.description;
      }
      button.setAttribute("aria-label", t("reply_with", { label: label }));
      button.addEventListener("click", function () {
        if (busy) return;
        send(choice.title);
      });
      choices.appendChild(button);
    });
    log.appendChild(choices);
    scrollToEnd();
  }

  function remember(msg) {
    state.messages.push(msg);
    saveState();
  }

  function notice(text) {
    messageNode("notice", text).node.dataset.state = "done";
    remember({ from: "notice", text: text });
  }

  // --- talking to the chat API -------------------------------------------------------------------------

  var busy = false;

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    handoff.disabled = value;
  }

  async function describeFailure(res) {
    var detail = "";
    try {
      var body = await res.json();
      if (body && body.error && typeof body.error.message === "string") detail = body.error.message;
    } catch (err) {
      /* not JSON */
    }
    if (detail) console.warn("HUB chat widget: " + res.status + " " + detail);
    if (res.status === 429) {
      var wait = parseInt(res.headers.get("Retry-After") || "", 10);
      return t("too_fast", { seconds: wait > 0 ? wait : 5 });
    }
    if (res.status === 409) return t("busy");
    if (res.status === 401 || res.status === 403) return t("unavailable");
    return t("went_wrong");
  }

  // Server-sent events over fetch: EventSource cannot POST or send the key header.
  async function readEvents(stream, onEvent) {
    var reader = stream.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      buffer += decoder.decode(chunk.value || new Uint8Array(0), { stream: !chunk.done });
      buffer = buffer.replace(/\r\n/g, "\n");
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatchBlock(buffer.slice(0, end), onEvent);
        buffer = buffer.slice(end + 2);
      }
      if (chunk.done) break;
    }
    if (buffer.trim()) dispatchBlock(buffer, onEvent);
  }

  function dispatchBlock(block, onEvent) {
    var name = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (!line || line.charAt(0) === ":") return;
      var colon = line.indexOf(":");
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    if (!data.length) return;
    var payload;
    try {
      payload = JSON.parse(data.join("\n"));
    } catch (err) {
      return;
    }
    onEvent(name, payload);
  }

  async function send(text) {
    text = text.trim();
    if (busy || !text) return;
    setBusy(true);
    clearChoices();
    messageNode("shopper", text).node.dataset.state = "done";
    remember({ from: "shopper", text: text });

    var reply = messageNode("assistant", "");
    reply.node.dataset.state = "waiting";
    reply.body.classList.add("typing");
    var replyText = "";
    var products = [];
    var offered = [];
    var messageId = null;
    var done = false;
    var failure = null;
    try {
      var res = await fetch(API + "/v1/chat/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Hub-Key": KEY },
        body: JSON.stringify({ session_id: state.session, message: text.slice(0, 4000) }),
      });
      if (!res.ok || !res.body) {
        failure = await describeFailure(res);
      } else {
        await readEvents(res.body, function (name, data) {
          if (name === "meta") {
            reply.node.dataset.state = "streaming";
            if (typeof data.intent === "string") reply.node.dataset.intent = data.intent;
            if (typeof data.message_id === "string") messageId = data.message_id;
            products = Array.isArray(data.products) ? data.products.filter(function (p) { return p && typeof p === "object"; }) : [];
            showProducts(reply.node, products);
            if (data.handled_by === "human" && typeof data.message_id === "string") followHuman(data.message_id);
          } else if (name === "delta" && data && typeof data.text === "string") {
            reply.body.classList.remove("typing");
            replyText += data.text;
            reply.body.appendChild(document.createTextNode(data.text));
            scrollToEnd();
          } else if (name === "done") {
            done = true;
            offered = slimChoices(data && data.quick_replies);
          }
        });
        if (!done) failure = t("cut_off");
      }
    } catch (err) {
      failure = t("unreachable");
    }
    reply.body.classList.remove("typing");
    if (replyText) {
      reply.node.dataset.state = done ? "done" : "incomplete";
      var stored = { from: "assistant", text: replyText, products: products.map(slimProduct), quick_replies: offered };
      if (done && messageId) stored.id = messageId;
      remember(stored);
      if (done) showRating(reply.node, stored);
      if (done) showChoices(offered);
    } else {
      reply.node.remove();
    }
    if (failure) notice(failure);
    setBusy(false);
    input.focus();
  }

  // --- a person from the shop answering ---------------------------------------------------------------------

  var POLL_MS = 4000;
  var pollTimer = null;

  // While a person handles the conversation their replies are fetched every few seconds; `humanSince` is the
  // id of the last message shown (the handoff's reply, then each person's reply), so a reload neither repeats
  // nor misses one.
  function followHuman(since) {
    if (!state.humanSince) { state.humanSince = since; saveState(); }
    if (pollTimer === null) pollTimer = window.setTimeout(pollHuman, POLL_MS);
  }

  async function pollHuman() {
    pollTimer = null;
    var url = API + "/v1/chat/messages?session_id=" + encodeURIComponent(state.session) +
      (state.humanSince ? "&after=" + encodeURIComponent(state.humanSince) : "");
    var found = null;
    try {
      var res = await fetch(url, { headers: { "X-Hub-Key": KEY } });
      if (res.ok) found = await res.json();
    } catch (err) {
      /* offline for a moment: try again at the next tick */
    }
    if (found && Array.isArray(found.messages)) {
      found.messages.forEach(function (msg) {
        if (!msg || typeof msg.content !== "string") return;
        clearChoices();
        messageNode("human", msg.content).node.dataset.state = "done";
        remember({ from: "human", text: msg.content });
        if (typeof msg.id === "string") state.humanSince = msg.id;
      });
      saveState();
    }
    if (found && found.handled_by === "bot") {
      state.humanSince = null;
      saveState();
      return;
    }
    pollTimer = window.setTimeout(pollHuman, POLL_MS);
  }

  // --- behaviour -------------------------------------------------------------------------------------------

  function setOpen(open, focus) {
    state.open = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t("close_chat") : t("open_chat"));
    saveState();
    if (open) {
      scrollToEnd();
      if (focus) input.focus();
    }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden, true); });
  close.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (busy || !text.trim()) return;
    input.value = "";
    send(text);
  });
  handoff.addEventListener("click", function () { send(t("handoff_message")); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { setOpen(false); launcher.focus(); }
  });

  var shopName = null;

  function applyConfig(config) {
    if (!config || typeof config !== "object") return;
    if (typeof config.shop_name === "string" && config.shop_name) {
      shopName = config.shop_name;
      writeLabels();
    }
    if (COLOUR_PATTERN.test(config.primary_colour)) host.style.setProperty("--hub-primary", config.primary_colour);
    if (COLOUR_PATTERN.test(config.accent_colour)) host.style.setProperty("--hub-accent", config.accent_colour);
  }

  // The shopper's language, where the shop speaks it: every label already on screen is written again.
  function applyText(answer) {
    if (!answer || typeof answer !== "object" || !answer.text || typeof answer.text !== "object") return;
    Object.keys(T).forEach(function (name) {
      if (typeof answer.text[name] === "string" && answer.text[name]) T[name] = answer.text[name];
    });
    if (typeof answer.language === "string") host.setAttribute("lang", answer.language);
    writeLabels();
  }

  // Every label on screen, from `T` and the shop's name: written once the DOM is built and again when either arrives.
  function writeLabels() {
    launcher.setAttribute("aria-label", panel.hidden ? t("open_chat") : t("close_chat"));
    panel.setAttribute("aria-label", shopName ? t("chat_with_shop", { shop: shopName }) : t("chat_with_us"));
    title.textContent = shopName || t("chat_with_us");
    close.setAttribute("aria-label", t("close_chat"));
    handoff.textContent = t("talk_to_human");
    input.placeholder = t("placeholder");
    input.setAttribute("aria-label", t("message"));
    sendButton.textContent = t("send");
    if (helloText) helloText.textContent = t("greeting");
  }

  var helloText = null;

  function start() {
    document.body.appendChild(host);
    var hello = messageNode("assistant", t("greeting"));
    helloText = hello.body;
    hello.node.dataset.state = "done";
    hello.node.dataset.greeting = "true";
    state.messages.forEach(renderStored);
    var last = state.messages[state.messages.length - 1];
    if (last && last.from === "assistant") showChoices(slimChoices(last.quick_replies));
    saveState();
    if (state.open) setOpen(true, false); // reopened on the next page, without taking the page's focus
    if (state.humanSince) followHuman(state.humanSince);
    fetch(API + "/v1/chat/config", { headers: { "X-Hub-Key": KEY } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(applyConfig, function () { /* keep the defaults */ });
    var languages = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language])
      .filter(function (tag) { return typeof tag === "string" && /^[A-Za-z0-9-]{1,35}$/.test(tag); })
      .slice(0, 5);
    fetch(API + "/v1/chat/text?lang=" + encodeURIComponent(languages.join(",")), { headers: { "X-Hub-Key": KEY } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(applyText, function () { /* keep English */ });
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
