/* netjournal search: a small, keyboard-friendly front end for Pagefind's search API.
   Everything comes from this site: the Pagefind bundle sits under the site's own path. */
(function () {
  "use strict";
  var root = document.getElementById("search");
  if (!root) return;
  var form = root.querySelector("form");
  var input = root.querySelector("input[type=search]");
  var status = root.querySelector(".search-status");
  var list = root.querySelector(".search-results");
  var bundle = root.getAttribute("data-bundle");
  var base = root.getAttribute("data-base");
  var version = root.getAttribute("data-pagefind-version");
  var PAGE = 10;
  var loading = null;
  var current = 0; // newest query wins: older answers are dropped
  var timer = 0;
  var found = [];
  var shown = 0;
  var lastQuery = "";

  form.hidden = false;
  var fallback = root.querySelector(".search-nojs");
  if (fallback) fallback.hidden = true;

  function say(text) { status.textContent = text; }

  function load() {
    if (!loading) {
      var src = bundle + "pagefind.js" + (version ? "?v=" + encodeURIComponent(version) : "");
      loading = import(src).then(function (pf) {
        return pf.options({ baseUrl: base, excerptLength: 24 }).then(function () { return pf; });
      });
    }
    return loading;
  }

  /* Pagefind's excerpt is HTML with <mark> around hits: keep the text and the marks only. */
  function excerpt(html) {
    var doc = new DOMParser().parseFromString("<p>" + html + "</p>", "text/html");
    var out = document.createDocumentFragment();
    doc.body.firstChild.childNodes.forEach(function (node) {
      if (node.nodeType === 1 && node.nodeName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        out.appendChild(mark);
      } else {
        out.appendChild(document.createTextNode(node.textContent));
      }
    });
    return out;
  }

  function item(data) {
    var li = document.createElement("li");
    li.className = "search-result";
    var h = document.createElement("h2");
    var a = document.createElement("a");
    a.href = data.url;
    a.textContent = (data.meta && data.meta.title) || data.url;
    h.appendChild(a);
    li.appendChild(h);
    if (data.meta && data.meta.date) {
      var when = document.createElement("p");
      when.className = "meta";
      when.textContent = data.meta.date;
      li.appendChild(when);
    }
    var p = document.createElement("p");
    p.className = "search-excerpt";
    p.appendChild(excerpt(data.excerpt || ""));
    if (p.textContent && !/[.!?…]$/.test(p.textContent.trim())) p.appendChild(document.createTextNode(" …"));
    li.appendChild(p);
    return li;
  }

  function plural(n) { return n === 1 ? "1 post" : n + " posts"; }

  function showMore(ticket) {
    var next = found.slice(shown, shown + PAGE);
    return Promise.all(next.map(function (r) { return r.data(); })).then(function (datas) {
      if (ticket !== current) return;
      var old = list.querySelector(".search-more");
      if (old) old.parentNode.removeChild(old);
      var first = null;
      datas.forEach(function (d) {
        var li = item(d);
        first = first || li;
        list.appendChild(li);
      });
      shown += datas.length;
      if (shown < found.length) {
        var li = document.createElement("li");
        li.className = "search-more";
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = "Show more results";
        b.addEventListener("click", function () {
          var before = shown;
          showMore(current).then(function () {
            var link = list.querySelectorAll(".search-result a")[before];
            if (link) link.focus();
          });
        });
        li.appendChild(b);
        list.appendChild(li);
      }
      return first;
    });
  }

  function run(query) {
    query = query.trim();
    if (query === lastQuery) return;
    lastQuery = query;
    var ticket = ++current;
    var url = new URL(window.location.href);
    if (query) url.searchParams.set("q", query); else url.searchParams.delete("q");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    if (!query) {
      list.textContent = "";
      say("");
      return;
    }
    say("Searching…");
    load().then(function (pf) {
      return pf.search(query);
    }).then(function (search) {
      if (ticket !== current) return;
      found = search.results;
      shown = 0;
      list.textContent = "";
      if (!found.length) {
        say("No posts found for “" + query + "”.");
        return;
      }
      return showMore(ticket).then(function () {
        if (ticket === current) say(plural(found.length) + " found for “" + query + "”.");
      });
    }).catch(function () {
      if (ticket !== current) return;
      lastQuery = "";
      say("Search could not be loaded. Browse the archive or the tags instead.");
    });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { run(input.value); }, 200);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    run(input.value);
  });

  /* Arrow keys move between the input and the result links; Escape goes back to the box. */
  root.addEventListener("keydown", function (event) {
    var links = Array.prototype.slice.call(list.querySelectorAll(".search-result a"));
    var at = links.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && (document.activeElement === input || at >= 0)) {
      if (at + 1 < links.length) { links[at + 1].focus(); event.preventDefault(); }
    } else if (event.key === "ArrowUp" && at >= 0) {
      (at > 0 ? links[at - 1] : input).focus();
      event.preventDefault();
    } else if (event.key === "Escape" && at >= 0) {
      input.focus();
      event.preventDefault();
    }
  });

  var initial = new URL(window.location.href).searchParams.get("q");
  if (initial) {
    input.value = initial;
    run(initial);
  } else {
    load().catch(function () {});  // warm up while the reader types
  }
})();
