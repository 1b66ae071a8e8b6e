/* netjournal live preview client.
 *
 * Served only by `netjournal serve` (injected into HTML responses at request
 * time, never written to the output folder). Listens to the server's event
 * stream and reloads the page, swaps stylesheets, or shows a build error.
 * Error text is inserted with textContent only, never as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var generation = (script && script.getAttribute("data-generation")) || "0";
  var endpoint = (script && script.getAttribute("data-events")) || "/__netjournal/events";
  var scrollKey = "netjournal:scroll:" + location.pathname + location.search;
  var OVERLAY_ID = "netjournal-error-overlay";

  function saveScroll() {
    try {
      sessionStorage.setItem(scrollKey, JSON.stringify({ x: window.scrollX, y: window.scrollY }));
    } catch (e) { /* private mode: reload without keeping position */ }
  }

  function restoreScroll() {
    var saved = null;
    try {
      saved = sessionStorage.getItem(scrollKey);
      sessionStorage.removeItem(scrollKey);
    } catch (e) { return; }
    if (!saved) { return; }
    var pos;
    try { pos = JSON.parse(saved); } catch (e) { return; }
    if (typeof pos.x !== "number" || typeof pos.y !== "number") { return; }
    if ("scrollRestoration" in history) { history.scrollRestoration = "manual"; }
    var apply = function () { window.scrollTo(pos.x, pos.y); };
    apply();
    // Images and fonts may still change the layout; settle once more after load.
    if (document.readyState === "complete") { requestAnimationFrame(apply); }
    else { window.addEventListener("load", function () { apply(); }, { once: true }); }
  }

  function reload() {
    saveScroll();
    window.location.reload();
  }

  function bust(href) {
    var url = new URL(href, location.href);
    url.searchParams.set("netjournal", String(Date.now()));
    return url.href;
  }

  function stylesheets(doc) {
    return Array.prototype.slice.call(doc.querySelectorAll('link[rel~="stylesheet"]'));
  }

  // Swap stylesheets in place. The page is fetched again first, because a
  // fingerprinted stylesheet gets a new name when its content changes.
  function swapCss() {
    fetch(location.href, { cache: "no-store" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = stylesheets(new DOMParser().parseFromString(html, "text/html"));
        var current = stylesheets(document);
        if (fresh.length !== current.length) { reload(); return; }
        current.forEach(function (link, i) {
          var next = fresh[i].getAttribute("href");
          var same = next === link.getAttribute("href") || next === link.dataset.netjournalHref;
          var replacement = link.cloneNode();
          replacement.dataset.netjournalHref = next;
          replacement.href = same ? bust(next) : next;
          replacement.addEventListener("load", function () { link.remove(); }, { once: true });
          replacement.addEventListener("error", function () { link.remove(); }, { once: true });
          link.after(replacement);
        });
        window.netjournalCssSwaps = (window.netjournalCssSwaps || 0) + 1;
      })
      .catch(reload);
  }

  function el(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function hideOverlay() {
    var old = document.getElementById(OVERLAY_ID);
    if (old) { old.remove(); }
  }

  function showOverlay(payload) {
    hideOverlay();
    var lines = (payload && payload.errors) || [];
    var box = el("div");
    box.id = OVERLAY_ID;
    box.setAttribute("role", "alert");
    Object.assign(box.style, {
      position: "fixed", inset: "0", zIndex: "2147483647", overflow: "auto",
      background: "rgba(20, 20, 20, 0.94)", color: "#fff", padding: "2rem",
      font: "15px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
    });
    var heading = el("h2", (payload && payload.title) || "Build failed");
    Object.assign(heading.style, { color: "#ff8a80", margin: "0 0 1rem", font: "inherit", fontSize: "1.3em" });
    var list = el("pre");
    list.className = "netjournal-errors";
    Object.assign(list.style, { whiteSpace: "pre-wrap", margin: "0 0 1rem", font: "inherit" });
    list.textContent = lines.join("\n");
    var note = el("p", "Still showing the last good build. Fix the file and save: this clears by itself.");
    Object.assign(note.style, { color: "#ccc", margin: "0 0 1rem" });
    var close = el("button", "Dismiss");
    close.type = "button";
    close.addEventListener("click", hideOverlay);
    box.append(heading, list, note, close);
    document.body.appendChild(box);
  }

  function connect() {
    var url = endpoint + "?generation=" + encodeURIComponent(generation);
    var source = new EventSource(url);
    source.addEventListener("reload", reload);
    source.addEventListener("css", swapCss);
    source.addEventListener("ok", hideOverlay);
    source.addEventListener("error", function (event) {
      // Named "error" messages carry data; connection errors do not
      // (EventSource reconnects by itself after those).
      if (typeof event.data !== "string") { return; }
      try { showOverlay(JSON.parse(event.data)); } catch (e) { /* malformed: ignore */ }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  restoreScroll();
  connect();
})();
