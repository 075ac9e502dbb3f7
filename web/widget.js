/* Courier chat widget. Options, API and the snippet: /embed.html on the Courier server. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var courier = new URL(script.src, location.href).origin;
  function opt(name) { return (script.getAttribute("data-" + name) || "").trim(); }
  var target = opt("target");
  if (!/^[ug]:[1-9]\d{0,17}$/.test(target)) {
    console.warn("Courier widget: data-target must be u:UID or g:GID");
    return;
  }
  if (window.Courier && window.Courier.destroy) window.Courier.destroy();
  var color = opt("color");
  if (!/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)) color = "";
  var lang = opt("lang").toLowerCase().slice(0, 2);
  if (!/^(zh|de|fr|es)$/.test(lang)) lang = "en";
  // Open, close, the panel's name.
  var words = {
    en: ["Open chat", "Close chat", "Chat"],
    zh: ["打开聊天", "关闭聊天", "聊天"],
    de: ["Chat öffnen", "Chat schließen", "Chat"],
    fr: ["Ouvrir le chat", "Fermer le chat", "Chat"],
    es: ["Abrir chat", "Cerrar chat", "Chat"]
  }[lang];
  var query = "target=" + target + "&lang=" + lang + "&parent=" + encodeURIComponent(location.origin);
  if (color) query += "&color=" + encodeURIComponent(color);
  if (opt("greeting")) query += "&greeting=" + encodeURIComponent(opt("greeting").slice(0, 500));
  if (opt("title")) query += "&title=" + encodeURIComponent(opt("title").slice(0, 80));

  var side = opt("position") === "bottom-left" ? "left" : "right";
  var W = "#courier-widget", OPEN = W + "[data-open=true] ";
  var css = W + "{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000}" +
  "#courier-launcher{position:relative;width:56px;height:56px;border:0;border-radius:50%;padding:0;color:#fff;cursor:pointer;" +
  "background:" + (color || "#2f6fed") + ";box-shadow:0 4px 14px rgba(0,0,0,.25);display:grid;place-items:center}" +
  "#courier-launcher svg{width:26px;height:26px;fill:currentColor}" +
  "#courier-badge{position:absolute;top:-4px;" + side + ":-4px;min-width:10px;padding:0 5px;" +
  "border-radius:10px;background:#d93025;color:#fff;font:700 12px/20px sans-serif}" +
  "#courier-badge[hidden]," + W + "[data-state=unavailable]{display:none}" +
  "#courier-panel{position:absolute;bottom:72px;" + side + ":0;width:370px;height:600px;max-height:calc(100vh - 110px);" +
  "border-radius:16px;overflow:hidden;background:#fff;box-shadow:0 10px 40px rgba(0,0,0,.25);" +
  "visibility:hidden}" + OPEN + "#courier-panel{visibility:visible}" +
  "#courier-frame{display:block;width:100%;height:100%;border:0}" +
  "@media (max-width:480px){" + OPEN + "#courier-panel{position:fixed;inset:0;width:100%;height:100%;max-width:none;" +
  "max-height:none;border-radius:0}" + OPEN + "#courier-launcher{display:none}}";
  var svg = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="';
  var chatIcon = svg + 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z"/></svg>';
  var closeIcon = svg + 'M5 5l14 14M19 5 5 19" stroke="#fff" stroke-width="2.5"/></svg>';

  function el(tag, attrs, parent) {
    var node = document.createElement(tag);
    for (var name in attrs) node.setAttribute(name, attrs[name]);
    return parent ? parent.appendChild(node) : node;
  }
  var style = el("style", { id: "courier-style" });
  style.textContent = css;
  var root = el("div", { id: "courier-widget", "data-state": "loading", "data-open": "false", "data-unread": "0" });
  var launcher = el("button", { id: "courier-launcher", type: "button", "aria-controls": "courier-panel" }, root);
  var icon = el("span", { "aria-hidden": "true" }, launcher);
  var badge = el("span", { id: "courier-badge" }, launcher);
  var panel = el("div", { id: "courier-panel", role: "dialog", "aria-label": words[2] }, root);
  var frame = el("iframe", { id: "courier-frame", title: words[2], allow: "clipboard-write" }, panel);
  frame.src = courier + "/widget?" + query;

  var isOpen = false, unread = 0, ready = false, heard = false, queue = [], handlers = {}, timers = [];

  function emit(name, detail) {
    (handlers[name] || []).forEach(function (fn) {
      try { fn(detail || {}); } catch (e) { console.error(e); }
    });
  }
  function send(message) {
    message.courier = 1;
    if (frame.contentWindow) frame.contentWindow.postMessage(message, courier);
  }
  function sendWhenReady(message) { ready ? send(message) : queue.push(message); }
  function render() {
    root.setAttribute("data-open", isOpen);
    root.setAttribute("data-unread", unread);
    launcher.setAttribute("aria-expanded", isOpen);
    launcher.setAttribute("aria-label", isOpen ? words[1] : words[0] + (unread ? " (" + unread + ")" : ""));
    icon.innerHTML = isOpen ? closeIcon : chatIcon;
    badge.textContent = unread;
    badge.hidden = isOpen || !unread;
  }
  // byPerson: a click or key (focus follows), not Courier.open() or data-open.
  function setOpen(open, byPerson) {
    if (!open === !isOpen) return;
    isOpen = !!open;
    render();
    if (ready) send({ type: isOpen ? "open" : "close" });
    if (isOpen && byPerson) frame.focus();
    else if (!isOpen && document.activeElement === frame) launcher.focus();
    emit(isOpen ? "open" : "close");
  }
  function unavailable() {
    if (heard) return;
    root.setAttribute("data-state", "unavailable");
    console.warn("Courier widget: blocked? Add " + location.origin + " to COURIER_EMBED_ORIGINS on " + courier);
  }
  function onMessage(event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || event.origin !== courier || !data || data.courier !== 1) return;
    var type = data.type;
    if (type === "loaded" || type === "ready") {
      heard = true;
      ready = type === "ready";
      root.setAttribute("data-state", "ready");
    }
    if (type === "ready") {
      // (Re)started: the panel's state, then what waited.
      send({ type: isOpen ? "open" : "close" });
      while (queue.length) send(queue.shift());
      emit("ready", { uid: data.uid });
    } else if (type === "unread") {
      unread = Math.max(0, data.count | 0);
      render();
      emit("unread", { count: unread });
    } else if (type === "identified" || type === "identify_failed") {
      emit(type, data.code ? { code: data.code } : { uid: data.uid });
    } else if (type === "close_request") {
      setOpen(false, true);
    }
  }
  function onKey(event) { if (isOpen && event.key === "Escape") setOpen(false, true); }

  frame.addEventListener("load", function () {
    if (!heard) timers.push(setTimeout(unavailable, 3000));
  });
  timers.push(setTimeout(unavailable, 20000));
  launcher.addEventListener("click", function () { setOpen(!isOpen, true); });
  addEventListener("message", onMessage);
  document.addEventListener("keydown", onKey);

  var api = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    toggle: function () { setOpen(!isOpen); },
    identify: function (token) {
      if (token && typeof token === "string") sendWhenReady({ type: "identify", token: token });
    },
    logout: function () { sendWhenReady({ type: "logout" }); },
    on: function (name, fn) {
      if (typeof fn === "function") (handlers[name] = handlers[name] || []).push(fn);
    },
    // For the preview in /embed.html, which rebuilds the widget.
    destroy: function () {
      timers.forEach(clearTimeout);
      removeEventListener("message", onMessage);
      document.removeEventListener("keydown", onKey);
      root.remove();
      style.remove();
      if (window.Courier === api) delete window.Courier;
    }
  };
  function call(entry) {
    if (entry && typeof api[entry[0]] === "function") api[entry[0]].apply(api, [].slice.call(entry, 1));
  }

  render();
  function mount() {
    document.head.appendChild(style);
    document.body.appendChild(root);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.Courier = api;
  var early = window.courierQueue;
  window.courierQueue = { push: function () { [].forEach.call(arguments, call); } };
  if (early && early.length) [].forEach.call(early, call);
  if (opt("open") === "true") setOpen(true);
})();
