/*
 * netjournal network diagram (vanilla JS + D3 v7, no build step).
 *
 * Reads the payload from <script type="application/json" id="nj-network-data">
 * and draws every <figure class="nj-diagram"> into its .nj-diagram-canvas.
 * Positions come from the build (x, y in [-1, 1]); nothing here runs a force
 * simulation, so a person stays in the same place in every round.
 *
 * Payload strings only ever reach the page through textContent / setAttribute
 * (never innerHTML), so a name cannot inject markup.
 */
(function () {
  "use strict";

  var SVG_MAX_NODES = 500;
  var SVG_MAX_LINKS = 2000;
  var PALETTE_SIZE = 7;
  var PLAY_INTERVAL_MS = 1600;
  var TRANSITION_MS = 350;
  var registry = [];

  var reducedMotion = window.matchMedia
    ? window.matchMedia("(prefers-reduced-motion: reduce)")
    : { matches: false };

  // ---------------------------------------------------------------- helpers

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function safeHref(url) {
    // Only same-site paths and http(s) links; anything else (javascript:, data:) is dropped.
    if (typeof url !== "string" || url === "") return null;
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function minRound(rounds) {
    var m = Infinity;
    for (var i = 0; i < rounds.length; i++) if (+rounds[i] < m) m = +rounds[i];
    return m;
  }

  function readPayload() {
    var script = document.getElementById("nj-network-data");
    if (!script) return null;
    try {
      return JSON.parse(script.textContent);
    } catch (e) {
      if (window.console) console.error("netjournal: network payload is not valid JSON", e);
      return null;
    }
  }

  // Colours: the largest labelled groups get a palette slot; everything else is "Other".
  function assignColours(payload) {
    var counts = (payload.groups || []).map(function () { return 0; });
    (payload.nodes || []).forEach(function (n) {
      if (n.group !== null && n.group !== undefined && counts[n.group] !== undefined) counts[n.group]++;
    });
    var labelled = [];
    (payload.groups || []).forEach(function (g, i) {
      if (g && g.label !== null && g.label !== undefined && g.label !== "") labelled.push(i);
    });
    labelled.sort(function (a, b) { return counts[b] - counts[a] || a - b; });
    var slotOf = {};
    labelled.slice(0, PALETTE_SIZE).forEach(function (g, slot) { slotOf[g] = slot; });
    var legend = labelled.slice(0, PALETTE_SIZE).sort(function (a, b) { return a - b; }).map(function (g) {
      return { slot: slotOf[g], label: String(payload.groups[g].label) };
    });
    var hasOther = (payload.nodes || []).some(function (n) { return slotOf[n.group] === undefined; });
    return { slotOf: slotOf, legend: legend, hasOther: hasOther };
  }

  function slotClass(slot) {
    return slot === undefined ? "nj-gx" : "nj-g" + slot;
  }

  // ------------------------------------------------------------ graph views

  /* Build the graph shown for round k: people or organisations, cumulative or
   * this round only. Returns plain objects the renderers share. */
  function buildView(payload, view, mode, k) {
    if (view === "orgs") return buildOrgView(payload.orgs || { nodes: [], links: [] }, mode, k);
    var nodes = [];
    var byId = {};
    (payload.nodes || []).forEach(function (n) {
      var shown = mode === "round" ? (n.rounds || []).indexOf(k) >= 0 : +n.first <= k;
      if (!shown) return;
      var item = { id: String(n.id), data: n, x: +n.x || 0, y: +n.y || 0, degree: 0, neighbours: [] };
      byId[item.id] = item;
      nodes.push(item);
    });
    var links = [];
    (payload.links || []).forEach(function (l) {
      var rounds = (l.rounds || []).map(Number);
      if (!rounds.length) return;
      var first = minRound(rounds);
      var shown = mode === "round" ? rounds.indexOf(k) >= 0 : first <= k;
      var s = byId[String(l.source)];
      var t = byId[String(l.target)];
      if (!shown || !s || !t || s === t) return;
      links.push({ id: s.id + "|" + t.id, source: s, target: t, isNew: first === k, weight: 1 });
    });
    finishDegrees(nodes, links);
    return { kind: "people", nodes: nodes, links: links, byId: byId };
  }

  function buildOrgView(orgs, mode, k) {
    var links = [];
    var touched = {};
    var raw = [];
    (orgs.links || []).forEach(function (l) {
      var rounds = l.rounds || {};
      var keys = Object.keys(rounds).map(Number);
      if (!keys.length) return;
      var first = minRound(keys);
      var weight = 0;
      keys.forEach(function (r) {
        if (mode === "round" ? r === k : r <= k) weight += +rounds[String(r)] || 0;
      });
      if (weight <= 0) return;
      touched[String(l.source)] = true;
      touched[String(l.target)] = true;
      raw.push({ l: l, weight: weight, isNew: first === k });
    });
    var nodes = [];
    var byId = {};
    (orgs.nodes || []).forEach(function (n) {
      var id = String(n.id);
      var shown = mode === "round" ? touched[id] || +n.first === k : +n.first <= k;
      if (!shown) return;
      var item = { id: id, data: n, x: +n.x || 0, y: +n.y || 0, degree: 0, neighbours: [], conversations: 0 };
      byId[id] = item;
      nodes.push(item);
    });
    raw.forEach(function (r) {
      var s = byId[String(r.l.source)];
      var t = byId[String(r.l.target)];
      if (!s || !t) return;
      s.conversations += r.weight;
      if (s !== t) t.conversations += r.weight;
      if (s === t) return; // conversations inside one organisation: counted, not drawn
      links.push({ id: s.id + "|" + t.id, source: s, target: t, isNew: r.isNew, weight: r.weight });
    });
    finishDegrees(nodes, links);
    return { kind: "orgs", nodes: nodes, links: links, byId: byId };
  }

  function finishDegrees(nodes, links) {
    links.forEach(function (l) {
      l.source.neighbours.push(l.target.id);
      l.target.neighbours.push(l.source.id);
    });
    nodes.forEach(function (n) {
      var seen = {};
      n.neighbours = n.neighbours.filter(function (id) {
        if (seen[id]) return false;
        seen[id] = true;
        return true;
      });
      n.degree = n.neighbours.length;
    });
  }

  // ---------------------------------------------------------------- diagram

  function Diagram(figure, payload, colours) {
    this.figure = figure;
    this.payload = payload;
    this.colours = colours;
    this.rounds = (payload.rounds || []).map(function (r) { return +r.round; });
    this.view = figure.getAttribute("data-view") === "orgs" ? "orgs" : "people";
    this.mode = figure.getAttribute("data-mode") === "round" ? "round" : "cumulative";
    var wanted = parseInt(figure.getAttribute("data-round"), 10);
    this.round = this.rounds.indexOf(wanted) >= 0 ? wanted : this.rounds[this.rounds.length - 1];
    this.uid = "nj-d" + registry.length; // prefix for element ids (registry grows after construction)
    this.selected = null; // id whose connections are highlighted
    this.focused = null; // id of the current person for the keyboard (one Tab stop per diagram)
    this.kbd = false; // show the focus ring only after keyboard use, not after a click
    this.hasFocus = false;
    this.pointerAt = 0;
    this.offsets = {}; // id -> [dx, dy] from dragging (visual only)
    this.transform = d3.zoomIdentity;
    this.timer = null;
    var all = this.view === "orgs" ? payload.orgs || { nodes: [], links: [] } : payload;
    this.useCanvas = (all.nodes || []).length > SVG_MAX_NODES || (all.links || []).length > SVG_MAX_LINKS;
    this.host = figure.querySelector(".nj-diagram-canvas");
    if (!this.host) {
      this.host = el("div", "nj-diagram-canvas");
      figure.insertBefore(this.host, figure.firstChild);
    }
    this.build();
    this.render(false);
  }

  Diagram.prototype.size = function () {
    var w = Math.max(260, Math.round(this.host.clientWidth || this.figure.clientWidth || 600));
    // Square on phones (the layout is square), a little wider than tall on desktops.
    var h = Math.round(w < 560 ? w : Math.min(620, w * 0.8));
    return [w, h];
  };

  /* Screen position of a node (before zoom): payload [-1, 1] scaled into a
   * centred square, plus any drag offset. */
  Diagram.prototype.place = function (n) {
    var off = this.offsets[n.id];
    return [
      this.cx + n.x * this.scale + (off ? off[0] : 0),
      this.cy + n.y * this.scale + (off ? off[1] : 0)
    ];
  };

  Diagram.prototype.measure = function () {
    var wh = this.size();
    this.width = wh[0];
    this.height = wh[1];
    var pad = 24;
    this.scale = Math.max(40, Math.min(this.width, this.height) / 2 - pad);
    this.cx = this.width / 2;
    this.cy = this.height / 2;
  };

  Diagram.prototype.radius = function (n, count) {
    if (this.view === "orgs") return Math.min(30, 4 + 2.6 * Math.sqrt(+n.data.size || 1));
    var base = count <= 60 ? 7 : count <= 250 ? 4.5 : count <= SVG_MAX_NODES ? 3.5 : 2.2;
    var grow = count <= SVG_MAX_NODES ? 1.3 : 0.6;
    // Dense drawings shrink with the space available so a phone is not a solid blob.
    var room = count > 250 ? Math.max(0.5, Math.min(1.2, this.scale / 280)) : 1;
    return room * Math.min(base * 3, base + grow * Math.sqrt(n.degree));
  };

  Diagram.prototype.linkWidth = function (l) {
    if (this.view === "orgs") return Math.min(10, 1 + 1.4 * Math.sqrt(l.weight));
    return l.isNew ? 2 : 1.2;
  };

  // ----------------------------------------------------------- DOM scaffold

  Diagram.prototype.build = function () {
    var self = this;
    var fig = this.figure;
    fig.classList.add("nj-js");
    this.host.textContent = "";
    fig.addEventListener("keydown", function (event) {
      // Escape from elsewhere in the figure (the details panel, the buttons); the drawing handles its own.
      if (event.key !== "Escape" || event.target === self.surface) return;
      if (self.selected || !self.tooltip.hidden) {
        self.select(null);
        self.hideTip();
      }
    });
    if (fig.hasAttribute("data-stepper") && this.rounds.length) this.buildStepper();

    this.buildToolbar();
    this.stage = el("div", "nj-stage");
    this.host.appendChild(this.stage);
    this.tooltip = el("div", "nj-tooltip");
    this.tooltip.setAttribute("role", "tooltip");
    this.tooltip.id = this.uid + "-tip";
    this.tooltip.hidden = true;
    this.host.appendChild(this.tooltip);
    this.announcer = el("div", "nj-visually-hidden nj-announcer");
    this.announcer.setAttribute("aria-live", "polite");
    this.host.appendChild(this.announcer);

    this.measure();
    this.zoom = d3.zoom()
      .scaleExtent([0.5, 12])
      .filter(function (event) {
        // Wheel zooms only with Ctrl/Cmd (or a trackpad pinch) so the page still scrolls;
        // one finger scrolls the page on phones, two fingers pan and pinch.
        if (event.type === "wheel") return event.ctrlKey || event.metaKey;
        if (event.type.indexOf("touch") === 0) return event.touches && event.touches.length > 1;
        return !event.ctrlKey && !event.button;
      })
      .on("zoom", function (event) {
        self.transform = event.transform;
        self.applyTransform();
      });

    if (this.useCanvas) this.buildCanvas();
    else this.buildSvg();
    this.bindSurface();
    this.buildLegend();
    this.buildPanel();

    if (window.ResizeObserver) {
      var lastW = this.width;
      new ResizeObserver(function () {
        var w = self.size()[0];
        if (Math.abs(w - lastW) < 2) return;
        lastW = w;
        self.measure();
        self.resize();
        self.render(false);
      }).observe(this.host);
    }
    var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    if (dark && dark.addEventListener) dark.addEventListener("change", function () { self.render(false); });
  };

  Diagram.prototype.buildSvg = function () {
    var self = this;
    this.svg = d3.select(this.stage).append("svg").attr("class", "nj-svg nj-surface");
    this.resize();
    this.svg.call(this.zoom).on("dblclick.zoom", null);
    this.svg.on("click", function (event) {
      if (event.target === self.svg.node()) self.select(null);
    });
    this.zoomLayer = this.svg.append("g").attr("class", "nj-zoom-layer");
    this.linkLayer = this.zoomLayer.append("g").attr("class", "nj-links");
    this.ringLayer = this.zoomLayer.append("g").attr("class", "nj-rings");
    this.nodeLayer = this.zoomLayer.append("g").attr("class", "nj-nodes");
    this.labelLayer = this.zoomLayer.append("g").attr("class", "nj-labels").attr("aria-hidden", "true");
    // The keyboard's current person: a halo under a ring, so it shows on every node colour.
    this.focusRing = this.zoomLayer.append("g").attr("class", "nj-focus-ring").attr("aria-hidden", "true")
      .attr("display", "none");
    this.focusRing.append("circle").attr("class", "nj-focus-halo");
    this.focusRing.append("circle").attr("class", "nj-focus-line");
    this.drag = d3.drag()
      .on("start", function (event) { d3.select(this).classed("nj-dragging", true); event.sourceEvent.stopPropagation(); })
      .on("drag", function (event, d) {
        var off = self.offsets[d.id] || [0, 0];
        var k = self.transform.k;
        self.offsets[d.id] = [off[0] + event.dx / k, off[1] + event.dy / k];
        self.positionSvg();
        self.showTip(d);
      })
      .on("end", function () { d3.select(this).classed("nj-dragging", false); });
  };

  Diagram.prototype.buildCanvas = function () {
    var self = this;
    this.canvas = d3.select(this.stage).append("canvas").attr("class", "nj-canvas nj-surface");
    this.resize();
    this.canvas
      .call(d3.drag()
        .subject(function (event) { return self.hit(event.sourceEvent || event); })
        .on("drag", function (event) {
          var d = event.subject;
          var off = self.offsets[d.id] || [0, 0];
          var k = self.transform.k;
          self.offsets[d.id] = [off[0] + event.dx / k, off[1] + event.dy / k];
          self.quadtree = null;
          self.draw();
          self.showTip(d);
        }))
      .call(this.zoom)
      .on("dblclick.zoom", null);
    var c = this.canvas.node();
    c.addEventListener("mousemove", function (event) {
      var d = self.hit(event);
      c.style.cursor = d ? "pointer" : "grab";
      if (d) self.showTip(d);
      else if (!self.selected) self.hideTip();
      if ((d && d.id) !== self.hoverId) {
        self.hoverId = d ? d.id : null;
        self.draw();
      }
    });
    c.addEventListener("mouseleave", function () {
      self.hoverId = null;
      if (!self.selected) self.hideTip();
      self.draw();
    });
    c.addEventListener("click", function (event) {
      if (event.defaultPrevented) return;
      var d = self.hit(event);
      if (d) self.clicked(d);
      else self.select(null);
    });
  };

  /* One Tab stop per diagram: the <svg> or <canvas> itself takes focus and the
   * arrow keys move a "current person" inside it, the same way in both
   * renderers. The SVG also points aria-activedescendant at that person's
   * circle; both announce the person through the live region. */
  Diagram.prototype.bindSurface = function () {
    var self = this;
    var node = (this.svg || this.canvas).node();
    this.surface = node;
    node.setAttribute("tabindex", "0");
    node.setAttribute("role", "application");
    node.setAttribute("aria-roledescription", "network diagram");
    node.addEventListener("pointerdown", function () {
      self.pointerAt = Date.now();
      self.kbd = false;
      self.syncFocus();
    }, true);
    node.addEventListener("keydown", function (event) { self.onKey(event); });
    node.addEventListener("focus", function () {
      self.hasFocus = true;
      if (Date.now() - self.pointerAt < 600) { self.syncFocus(); return; } // focus from a click
      self.kbd = true;
      var n = self.focused && self.current.byId[self.focused];
      self.focusNode(n || self.startNode());
    });
    node.addEventListener("blur", function () {
      self.hasFocus = false;
      if (!self.selected) self.hideTip();
      self.syncFocus();
    });
  };

  /* A click (or tap) on a person: highlight them (or clear) and make them the
   * keyboard's current person, so the arrow keys carry on from there. */
  Diagram.prototype.clicked = function (n) {
    this.focused = n.id;
    this.select(this.selected === n.id ? null : n.id);
    if (document.activeElement !== this.surface) this.surface.focus({ preventScroll: true });
    this.syncFocus();
  };

  Diagram.prototype.resize = function () {
    if (this.svg) {
      this.svg.attr("viewBox", [0, 0, this.width, this.height].join(" "))
        .attr("width", this.width).attr("height", this.height);
    }
    if (this.canvas) {
      var dpr = window.devicePixelRatio || 1;
      this.dpr = dpr;
      this.canvas.attr("width", Math.round(this.width * dpr)).attr("height", Math.round(this.height * dpr))
        .style("width", this.width + "px").style("height", this.height + "px");
      this.quadtree = null;
    }
  };

  /* A row above the drawing: a short how-to and the zoom buttons, which used
   * to sit on top of the picture and cover people. */
  Diagram.prototype.buildToolbar = function () {
    var self = this;
    var bar = el("div", "nj-toolbar");
    var who = this.view === "orgs" ? "an organisation" : "a person";
    bar.appendChild(el("p", "nj-hint", "Click " + who + ", or use the arrow keys and Enter, to see connections."));
    var zoom = el("div", "nj-zoom-controls");
    zoom.setAttribute("role", "group");
    zoom.setAttribute("aria-label", "Zoom");
    [["+", "Zoom in", 1.5], ["\u2212", "Zoom out", 1 / 1.5], ["\u21ba", "Reset zoom", 0]].forEach(function (b) {
      var btn = el("button", "nj-btn nj-zoom-btn");
      btn.type = "button";
      btn.setAttribute("aria-label", b[1]);
      btn.title = b[1];
      var icon = el("span", "nj-icon", b[0]);
      icon.setAttribute("aria-hidden", "true");
      btn.appendChild(icon);
      btn.addEventListener("click", function () { self.zoomBy(b[2]); });
      zoom.appendChild(btn);
    });
    bar.appendChild(zoom);
    this.host.appendChild(bar);
  };

  /* The heading level that fits here: one below the nearest heading before the figure. */
  function headingLevel(node) {
    var level = 1;
    var hs = document.querySelectorAll("h1, h2, h3, h4, h5, h6");
    for (var i = 0; i < hs.length; i++) {
      if (hs[i].classList.contains("nj-details-heading")) continue;
      if (!(hs[i].compareDocumentPosition(node) & Node.DOCUMENT_POSITION_FOLLOWING)) break;
      level = +hs[i].tagName.charAt(1);
    }
    return Math.min(6, level + 1);
  }

  /* Details of the selected person below the drawing: a region with a heading
   * and real links to their posts, so everything in the hover card can also
   * be reached with Tab. */
  Diagram.prototype.buildPanel = function () {
    var panel = el("section", "nj-details");
    var heading = el("h" + headingLevel(this.figure), "nj-details-heading",
      this.view === "orgs" ? "Selected organisation" : "Selected person");
    heading.id = this.uid + "-details";
    panel.setAttribute("aria-labelledby", heading.id);
    panel.appendChild(heading);
    this.panelBody = el("div", "nj-details-body");
    panel.appendChild(this.panelBody);
    this.panel = panel;
    this.panelKey = null;
    this.host.appendChild(panel);
    this.fillPanel(null);
  };

  Diagram.prototype.fillPanel = function (n) {
    var body = this.panelBody;
    var orgs = this.view === "orgs";
    var met = !n ? "" : orgs
      ? plural(n.conversations, "conversation", "conversations") + " with " +
        plural(n.degree, "other organisation", "other organisations")
      : "Met " + plural(n.degree, "different person", "different people");
    var key = n ? n.id : "";
    if (key === this.panelKey) {
      // Same person, another round: update the count in place so a focused post link keeps focus.
      if (this.panelMet) this.panelMet.textContent = met;
      return;
    }
    this.panelKey = key;
    this.panelMet = null;
    var hadFocus = body.contains(document.activeElement);
    body.textContent = "";
    if (hadFocus) this.surface.focus(); // the post link that had focus is gone: back to the drawing
    if (!n) {
      body.appendChild(el("p", "nj-details-empty", "Nobody selected. Click " +
        (orgs ? "an organisation" : "a person") + ", or press Enter on the diagram, to see details here."));
      return;
    }
    var d = n.data;
    var name = d.label ? String(d.label) : orgs ? "Other organisation (not public)" : "A participant (not public)";
    body.appendChild(el("p", "nj-details-name", name));
    if (!orgs && d.label && d.org) body.appendChild(el("p", "nj-details-org", String(d.org)));
    if (orgs) body.appendChild(el("p", "nj-details-line", plural(+d.size || 0, "person", "people")));
    this.panelMet = el("p", "nj-details-line nj-details-met", met);
    body.appendChild(this.panelMet);
    if (orgs || !d.label) return;
    if (d.me) body.appendChild(el("p", "nj-details-line", "This is me (the journal's author)"));
    var posts = Array.isArray(d.posts) ? d.posts : [];
    if (!posts.length) return;
    body.appendChild(el("p", "nj-details-line", "Posts:"));
    var list = el("ul", "nj-details-posts");
    posts.forEach(function (p) {
      var href = safeHref(p && p.url);
      var li = el("li");
      var title = p && p.title ? String(p.title) : "Post";
      if (href) {
        var a = el("a", null, title);
        a.setAttribute("href", href);
        li.appendChild(a);
      } else {
        li.textContent = title; // a rejected URL (javascript:, data:) leaves the title as plain text
      }
      list.appendChild(li);
    });
    body.appendChild(list);
  };

  Diagram.prototype.buildLegend = function () {
    var legend = el("ul", "nj-legend");
    legend.setAttribute("aria-label", "Legend");
    this.colours.legend.forEach(function (g) {
      var li = el("li", "nj-legend-item");
      var sw = el("span", "nj-swatch " + slotClass(g.slot));
      sw.setAttribute("aria-hidden", "true");
      li.appendChild(sw);
      li.appendChild(el("span", "nj-legend-label", g.label));
      legend.appendChild(li);
    });
    if (this.colours.hasOther) {
      var other = el("li", "nj-legend-item");
      var osw = el("span", "nj-swatch nj-gx");
      osw.setAttribute("aria-hidden", "true");
      other.appendChild(osw);
      other.appendChild(el("span", "nj-legend-label", "Other organisation"));
      legend.appendChild(other);
    }
    if (this.view === "people" && (this.payload.nodes || []).some(function (n) { return n.me; })) {
      var me = el("li", "nj-legend-item");
      var ring = el("span", "nj-swatch nj-swatch-me");
      ring.setAttribute("aria-hidden", "true");
      me.appendChild(ring);
      me.appendChild(el("span", "nj-legend-label", "Me (the journal's author)"));
      legend.appendChild(me);
    }
    [["nj-line-new", "New connection this round"], ["nj-line-old", "Earlier connection"]].forEach(function (x) {
      var li = el("li", "nj-legend-item");
      var sw = el("span", "nj-line " + x[0]);
      sw.setAttribute("aria-hidden", "true");
      li.appendChild(sw);
      li.appendChild(el("span", "nj-legend-label", x[1]));
      legend.appendChild(li);
    });
    this.legend = legend;
    this.host.appendChild(legend);
  };

  Diagram.prototype.buildStepper = function () {
    var self = this;
    var id = "nj-d" + registry.length;
    var bar = el("div", "nj-stepper");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Step through the rounds");

    var buttons = el("div", "nj-stepper-buttons");
    function button(cls, label, symbol, fn) {
      var b = el("button", "nj-btn " + cls);
      b.type = "button";
      b.setAttribute("aria-label", label);
      b.title = label;
      var icon = el("span", "nj-icon", symbol);
      icon.setAttribute("aria-hidden", "true");
      b.appendChild(icon);
      b.addEventListener("click", fn);
      buttons.appendChild(b);
      return b;
    }
    this.prevBtn = button("nj-prev", "Previous round", "\u2039", function () { self.stop(); self.step(-1); });
    this.playBtn = button("nj-play", "Play", "\u25b6", function () { self.togglePlay(); });
    this.playBtn.setAttribute("aria-pressed", "false");
    this.nextBtn = button("nj-next", "Next round", "\u203a", function () { self.stop(); self.step(1); });
    bar.appendChild(buttons);

    var sliderWrap = el("div", "nj-slider");
    var label = el("label", "nj-slider-label", "Round");
    label.htmlFor = id + "-range";
    this.slider = el("input", "nj-range");
    this.slider.type = "range";
    this.slider.id = id + "-range";
    this.slider.min = "0";
    this.slider.max = String(this.rounds.length - 1);
    this.slider.step = "1";
    this.slider.addEventListener("input", function () {
      self.stop();
      self.setRound(self.rounds[+self.slider.value]);
    });
    this.sliderValue = el("output", "nj-slider-value");
    this.sliderValue.htmlFor = this.slider.id;
    sliderWrap.appendChild(label);
    sliderWrap.appendChild(this.slider);
    sliderWrap.appendChild(this.sliderValue);
    bar.appendChild(sliderWrap);

    var modes = el("fieldset", "nj-modes");
    modes.appendChild(el("legend", "nj-visually-hidden", "Which connections"));
    this.modeInputs = {};
    [["cumulative", "Cumulative"], ["round", "This round only"]].forEach(function (m) {
      var lab = el("label", "nj-mode");
      var input = el("input");
      input.type = "radio";
      input.name = id + "-mode";
      input.value = m[0];
      input.checked = self.mode === m[0];
      input.addEventListener("change", function () { if (input.checked) self.setMode(m[0]); });
      lab.appendChild(input);
      lab.appendChild(document.createTextNode(" " + m[1]));
      modes.appendChild(lab);
      self.modeInputs[m[0]] = input;
    });
    bar.appendChild(modes);

    this.status = el("p", "nj-status");
    this.status.setAttribute("aria-live", "polite");
    this.status.setAttribute("aria-atomic", "true");
    bar.appendChild(this.status);
    this.host.appendChild(bar);
  };

  // -------------------------------------------------------------- rendering

  Diagram.prototype.render = function (animate) {
    var view = buildView(this.payload, this.view, this.mode, this.round);
    var self = this;
    var count = view.nodes.length;
    view.nodes.forEach(function (n) {
      n.r = self.radius(n, self.useCanvas ? Math.max(count, SVG_MAX_NODES + 1) : count);
      n.slot = self.view === "orgs" ? (n.data.label ? self.orgSlot(n) : undefined) : self.colours.slotOf[n.data.group];
    });
    this.current = view;
    this.quadtree = null;
    if (this.selected && !view.byId[this.selected]) this.selected = null;
    if (this.focused && !view.byId[this.focused]) this.focused = null;
    if (this.useCanvas) this.draw();
    else this.drawSvg(animate && !reducedMotion.matches);
    this.updateStatus();
    if (this.panel) this.fillPanel(this.selected ? view.byId[this.selected] : null);
    this.syncFocus(true);
    var fig = this.figure;
    fig.setAttribute("data-nj-renderer", this.useCanvas ? "canvas" : "svg");
    fig.setAttribute("data-nj-shown-round", String(this.round));
    fig.setAttribute("data-nj-shown-mode", this.mode);
    fig.setAttribute("data-nj-nodes", String(view.nodes.length));
    fig.setAttribute("data-nj-links", String(view.links.length));
    fig.setAttribute("data-nj-new-links", String(view.links.filter(function (l) { return l.isNew; }).length));
    fig.setAttribute("data-nj-ready", "1");
  };

  Diagram.prototype.orgSlot = function (n) {
    // Organisation view: colour an organisation like its people when the label matches a group.
    if (!this.orgSlotByLabel) {
      var map = {};
      var groups = this.payload.groups || [];
      var slotOf = this.colours.slotOf;
      Object.keys(slotOf).forEach(function (g) {
        if (groups[g] && groups[g].label) map[groups[g].label] = slotOf[g];
      });
      this.orgSlotByLabel = map;
    }
    return this.orgSlotByLabel[n.data.label];
  };

  Diagram.prototype.nodeLabel = function (n) {
    var d = n.data;
    if (this.view === "orgs") {
      var name = d.label ? String(d.label) : "Other organisation (not public)";
      return name + ": " + plural(+d.size || 0, "person", "people") + ", " +
        plural(n.conversations, "conversation", "conversations") + ", connected to " +
        plural(n.degree, "organisation", "organisations");
    }
    var who = d.label ? String(d.label) : "A participant (not public)";
    var parts = [who];
    if (d.label && d.org) parts.push(String(d.org));
    parts.push("met " + plural(n.degree, "different person", "different people"));
    if (d.me) parts.push("this is me");
    return parts.join(", ");
  };

  Diagram.prototype.drawSvg = function (animate) {
    var self = this;
    var view = this.current;
    var dur = animate ? TRANSITION_MS : 0;
    var t = this.svg.transition().duration(dur);

    var links = this.linkLayer.selectAll("line.nj-link").data(view.links, function (d) { return d.id; });
    links.exit().interrupt().transition(t).style("opacity", 0).remove();
    var linksEnter = links.enter().append("line")
      .attr("class", "nj-link")
      .attr("data-source", function (d) { return d.source.id; })
      .attr("data-target", function (d) { return d.target.id; })
      .style("opacity", animate ? 0 : null);
    this.links = linksEnter.merge(links)
      .classed("nj-link-new", function (d) { return d.isNew; })
      .attr("stroke-width", function (d) { return self.linkWidth(d); });
    this.links.interrupt().transition(t).style("opacity", null);

    var ringData = view.nodes.filter(function (n) { return n.data.me; });
    var rings = this.ringLayer.selectAll("circle.nj-me-ring").data(ringData, function (d) { return d.id; });
    rings.exit().remove();
    this.rings = rings.enter().append("circle").attr("class", "nj-me-ring").merge(rings)
      .attr("r", function (d) { return d.r + 4; });

    var nodes = this.nodeLayer.selectAll("circle.nj-node").data(view.nodes, function (d) { return d.id; });
    nodes.exit().interrupt().transition(t).attr("r", 0).remove();
    var enter = nodes.enter().append("circle")
      .attr("class", "nj-node")
      .attr("data-id", function (d) { return d.id; })
      .attr("id", function (d) { return self.nodeElementId(d); })
      .attr("role", "img")
      .attr("r", animate ? 0 : function (d) { return d.r; })
      .on("mouseenter", function (event, d) { self.showTip(d); })
      .on("mouseleave", function () { if (!self.selected) self.hideTip(); })
      .on("click", function (event, d) {
        if (event.defaultPrevented) return;
        event.stopPropagation();
        self.clicked(d);
      })
      .call(this.drag);
    this.nodes = enter.merge(nodes)
      .attr("class", function (d) { return "nj-node " + slotClass(d.slot) + (d.data.me ? " nj-me" : ""); })
      .attr("aria-label", function (d) { return self.nodeLabel(d); });
    this.nodes.interrupt().transition(t).attr("r", function (d) { return d.r; });

    var labelData = this.view === "orgs" && view.nodes.length <= 40
      ? view.nodes.filter(function (n) { return n.data.label; }) : [];
    var labels = this.labelLayer.selectAll("text.nj-node-label").data(labelData, function (d) { return d.id; });
    labels.exit().remove();
    this.labels = labels.enter().append("text").attr("class", "nj-node-label").merge(labels)
      .text(function (d) { return String(d.data.label); });

    this.positionSvg();
    this.applyHighlight();
  };

  Diagram.prototype.nodeElementId = function (n) {
    return this.uid + "-" + n.id;
  };

  Diagram.prototype.positionSvg = function () {
    var self = this;
    var pos = {};
    this.current.nodes.forEach(function (n) { pos[n.id] = self.place(n); });
    this.nodes.attr("cx", function (d) { return pos[d.id][0]; }).attr("cy", function (d) { return pos[d.id][1]; });
    this.rings.attr("cx", function (d) { return pos[d.id][0]; }).attr("cy", function (d) { return pos[d.id][1]; });
    var f = this.focused && this.current.byId[this.focused];
    if (f) {
      this.focusRing.selectAll("circle").attr("cx", pos[f.id][0]).attr("cy", pos[f.id][1]);
      this.focusRing.select(".nj-focus-halo").attr("r", f.r + 4);
      this.focusRing.select(".nj-focus-line").attr("r", f.r + 4);
    }
    this.labels
      .attr("x", function (d) { return pos[d.id][0] + d.r + 3; })
      .attr("y", function (d) { return pos[d.id][1] + 4; });
    this.links
      .attr("x1", function (d) { return pos[d.source.id][0]; })
      .attr("y1", function (d) { return pos[d.source.id][1]; })
      .attr("x2", function (d) { return pos[d.target.id][0]; })
      .attr("y2", function (d) { return pos[d.target.id][1]; });
  };

  Diagram.prototype.applyTransform = function () {
    if (this.zoomLayer) this.zoomLayer.attr("transform", this.transform);
    else this.scheduleDraw();
    if (this.tipFor) this.showTip(this.tipFor);
  };

  Diagram.prototype.zoomBy = function (factor) {
    var target = this.svg || this.canvas;
    var sel = reducedMotion.matches ? target : target.transition("nj-zoom").duration(250);
    if (factor === 0) this.zoom.transform(sel, d3.zoomIdentity);
    else this.zoom.scaleBy(sel, factor);
  };

  Diagram.prototype.applyHighlight = function () {
    if (!this.nodes) return;
    var sel = this.selected;
    var near = {};
    if (sel && this.current.byId[sel]) {
      near[sel] = true;
      this.current.byId[sel].neighbours.forEach(function (id) { near[id] = true; });
    }
    var on = !!sel;
    this.svg.classed("nj-has-selection", on);
    this.nodes
      .classed("nj-faded", function (d) { return on && !near[d.id]; })
      .classed("nj-selected", function (d) { return d.id === sel; });
    this.links
      .classed("nj-faded", function (d) { return on && d.source.id !== sel && d.target.id !== sel; })
      .classed("nj-highlighted", function (d) { return on && (d.source.id === sel || d.target.id === sel); });
    this.rings.classed("nj-faded", function (d) { return on && !near[d.id]; });
    this.labels.classed("nj-faded", function (d) { return on && !near[d.id]; });
  };

  // Canvas renderer ---------------------------------------------------------

  Diagram.prototype.palette = function () {
    var style = window.getComputedStyle(this.figure);
    function v(name, fallback) {
      var value = style.getPropertyValue(name).trim();
      return value || fallback;
    }
    var slots = [];
    for (var i = 0; i < PALETTE_SIZE; i++) slots.push(v("--nj-c" + i, "#0072B2"));
    return {
      slots: slots,
      other: v("--nj-other", "#8c8c8c"),
      link: v("--nj-link", "#8d929b"),
      linkNew: v("--nj-link-new", "#c2185b"),
      ring: v("--nj-ring", "#1d1f24"),
      focus: v("--nj-focus", "#1a5fd0"),
      halo: v("--nj-bg", "#ffffff"),
      stroke: v("--nj-node-stroke", "#ffffff")
    };
  };

  Diagram.prototype.scheduleDraw = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    window.requestAnimationFrame(function () {
      self.pending = false;
      self.draw();
    });
  };

  Diagram.prototype.draw = function () {
    if (!this.canvas) return;
    var self = this;
    var ctx = this.canvas.node().getContext("2d");
    var pal = this.palette();
    var view = this.current;
    var t = this.transform;
    var dpr = this.dpr || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.width * dpr, this.height * dpr);
    ctx.setTransform(dpr * t.k, 0, 0, dpr * t.k, dpr * t.x, dpr * t.y);
    var sel = this.selected;
    var near = {};
    if (sel && view.byId[sel]) {
      near[sel] = true;
      view.byId[sel].neighbours.forEach(function (id) { near[id] = true; });
    }
    var pos = {};
    view.nodes.forEach(function (n) { pos[n.id] = self.place(n); });
    var lw = 1 / Math.sqrt(t.k);

    function strokeLinks(filter, colour, width, dash, alpha) {
      ctx.beginPath();
      var any = false;
      view.links.forEach(function (l) {
        if (!filter(l)) return;
        var a = pos[l.source.id];
        var b = pos[l.target.id];
        ctx.moveTo(a[0], a[1]);
        ctx.lineTo(b[0], b[1]);
        any = true;
      });
      if (!any) return;
      ctx.globalAlpha = alpha;
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.setLineDash(dash);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
    }
    var touches = function (l) { return l.source.id === sel || l.target.id === sel; };
    var crowded = view.links.length > 2500;
    var dim = sel ? 0.08 : crowded ? 0.22 : 0.35;
    if (this.view === "orgs") {
      view.links.forEach(function (l) {
        var a = pos[l.source.id];
        var b = pos[l.target.id];
        ctx.beginPath();
        ctx.moveTo(a[0], a[1]);
        ctx.lineTo(b[0], b[1]);
        ctx.globalAlpha = sel && !touches(l) ? 0.1 : 0.6;
        ctx.strokeStyle = l.isNew ? pal.linkNew : pal.link;
        ctx.lineWidth = self.linkWidth(l) * lw;
        ctx.setLineDash(l.isNew ? [4 * lw, 3 * lw] : []);
        ctx.stroke();
      });
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
    } else {
      strokeLinks(function (l) { return !l.isNew && (!sel || !touches(l)); }, pal.link, 0.8 * lw, [], dim);
      strokeLinks(function (l) { return l.isNew && (!sel || !touches(l)); }, pal.linkNew, 1.4 * lw,
        [4 * lw, 3 * lw], sel ? 0.15 : crowded ? 0.55 : 0.85);
      if (sel) {
        strokeLinks(function (l) { return touches(l) && !l.isNew; }, pal.link, 1.6 * lw, [], 1);
        strokeLinks(function (l) { return touches(l) && l.isNew; }, pal.linkNew, 2 * lw, [4 * lw, 3 * lw], 1);
      }
    }

    // Nodes, batched by colour; faded ones first so the highlighted ones sit on top.
    var passes = sel ? [false, true] : [true];
    passes.forEach(function (bright) {
      var buckets = {};
      view.nodes.forEach(function (n) {
        if (sel && !!near[n.id] !== bright) return;
        var key = n.slot === undefined ? "x" : n.slot;
        (buckets[key] = buckets[key] || []).push(n);
      });
      ctx.globalAlpha = bright ? 1 : 0.15;
      Object.keys(buckets).forEach(function (key) {
        ctx.beginPath();
        buckets[key].forEach(function (n) {
          var p = pos[n.id];
          ctx.moveTo(p[0] + n.r, p[1]);
          ctx.arc(p[0], p[1], n.r, 0, 2 * Math.PI);
        });
        ctx.fillStyle = key === "x" ? pal.other : pal.slots[+key];
        ctx.fill();
        ctx.lineWidth = 0.6 * lw;
        ctx.strokeStyle = pal.stroke;
        ctx.stroke();
      });
    });
    ctx.globalAlpha = 1;

    function ring(n, colour, extra, width) {
      var p = pos[n.id];
      ctx.beginPath();
      ctx.arc(p[0], p[1], n.r + extra * lw, 0, 2 * Math.PI);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width * lw;
      ctx.stroke();
    }
    view.nodes.forEach(function (n) { if (n.data.me) ring(n, pal.ring, 3, 2); });
    if (sel && view.byId[sel]) ring(view.byId[sel], pal.ring, 2, 2.5);
    if (this.hoverId && view.byId[this.hoverId]) ring(view.byId[this.hoverId], pal.focus, 2, 2);
    if (this.hasFocus && this.kbd && this.focused && view.byId[this.focused]) {
      ring(view.byId[this.focused], pal.halo, 4, 6);
      ring(view.byId[this.focused], pal.focus, 4, 3);
    }
  };

  Diagram.prototype.hit = function (event) {
    if (!this.current || !this.current.nodes.length) return null;
    var self = this;
    if (!this.quadtree) {
      this.quadtree = d3.quadtree()
        .x(function (n) { return self.place(n)[0]; })
        .y(function (n) { return self.place(n)[1]; })
        .addAll(this.current.nodes);
    }
    var p = d3.pointer(event, this.canvas.node());
    var q = this.transform.invert(p);
    var found = this.quadtree.find(q[0], q[1], 14 / this.transform.k + 4);
    return found || null;
  };

  // ------------------------------------------------------------ interaction

  Diagram.prototype.startNode = function () {
    var nodes = this.current.nodes;
    if (!nodes.length) return null;
    var me = nodes.filter(function (n) { return n.data.me; })[0];
    if (me) return me;
    var best = nodes[0];
    nodes.forEach(function (n) { if (n.x * n.x + n.y * n.y < best.x * best.x + best.y * best.y) best = n; });
    return best;
  };

  /* Make n the current person: ring, tooltip, live description, and (SVG)
   * aria-activedescendant. Focus itself stays on the drawing. */
  Diagram.prototype.focusNode = function (n) {
    if (!n) return;
    this.focused = n.id;
    this.reveal(n);
    this.showTip(n);
    this.announcer.textContent = this.nodeLabel(n) +
      (this.selected === n.id ? ", connections highlighted" : "");
    this.syncFocus();
  };

  /* Bring the ring, aria-activedescendant and data-nj-focused in line with this.focused. */
  Diagram.prototype.syncFocus = function (drawn) {
    var n = this.focused && this.current && this.current.byId[this.focused];
    if (!n) this.focused = null;
    this.figure.setAttribute("data-nj-focused", n ? n.id : "");
    var show = !!n && this.hasFocus && this.kbd;
    if (this.svg) {
      if (n) this.surface.setAttribute("aria-activedescendant", this.nodeElementId(n));
      else this.surface.removeAttribute("aria-activedescendant");
      this.focusRing.attr("display", show ? null : "none");
      if (n) this.positionSvg();
    } else if (this.canvas && !drawn) {
      this.draw();
    }
  };

  /* When zoomed in, pan so the current person is on screen. */
  Diagram.prototype.reveal = function (n) {
    var p = this.place(n);
    var sx = this.transform.applyX(p[0]);
    var sy = this.transform.applyY(p[1]);
    var m = 12;
    if (sx >= m && sx <= this.width - m && sy >= m && sy <= this.height - m) return;
    this.zoom.translateTo(d3.select(this.surface), p[0], p[1]);
  };

  /* Nearest node in the direction of an arrow key: forward distance plus a
   * penalty for sideways offset, so the move feels like "the next one over". */
  Diagram.prototype.neighbourInDirection = function (from, dx, dy) {
    var best = null;
    var bestScore = Infinity;
    var self = this;
    var a = this.place(from);
    this.current.nodes.forEach(function (n) {
      if (n === from) return;
      var b = self.place(n);
      var vx = b[0] - a[0];
      var vy = b[1] - a[1];
      var forward = vx * dx + vy * dy;
      if (forward <= 0.5) return;
      var side = Math.abs(vx * dy - vy * dx);
      var score = forward + 2.5 * side;
      if (score < bestScore) { bestScore = score; best = n; }
    });
    return best;
  };

  /* Keys on the drawing: arrows move to the nearest person that way, Home/End
   * to the first/last person to join, Enter/Space toggle the highlight,
   * Escape clears it. */
  Diagram.prototype.onKey = function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var nodes = this.current.nodes;
    var n = (this.focused && this.current.byId[this.focused]) || null;
    var dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    var key = event.key;
    if (key === "Enter" || key === " ") {
      event.preventDefault();
      this.kbd = true;
      if (!n) { n = this.startNode(); if (!n) return; this.focused = n.id; }
      this.select(this.selected === n.id ? null : n.id);
      this.syncFocus();
    } else if (key === "Escape") {
      if (this.selected || !this.tooltip.hidden) event.preventDefault();
      this.select(null);
      this.hideTip();
    } else if (dirs[key] || key === "Home" || key === "End") {
      event.preventDefault();
      this.kbd = true;
      if (!nodes.length) return;
      var next;
      if (key === "Home") next = nodes[0];
      else if (key === "End") next = nodes[nodes.length - 1];
      else next = n ? this.neighbourInDirection(n, dirs[key][0], dirs[key][1]) : this.startNode();
      this.focusNode(next || n);
    }
  };

  Diagram.prototype.select = function (id) {
    this.selected = id;
    if (this.useCanvas) this.draw();
    else this.applyHighlight();
    this.figure.setAttribute("data-nj-selected", id || "");
    var n = id ? this.current.byId[id] : null;
    this.fillPanel(n || null);
    if (n) {
      this.showTip(n, true);
      this.announcer.textContent = "Showing the connections of " + this.nodeLabel(n) +
        ". Details are below the diagram. Press Escape to clear.";
    } else {
      this.hideTip();
      this.announcer.textContent = "";
    }
  };

  Diagram.prototype.fillTip = function (n) {
    var tip = this.tooltip;
    var d = n.data;
    tip.textContent = "";
    if (this.view === "orgs") {
      tip.appendChild(el("strong", "nj-tip-name", d.label ? String(d.label) : "Other organisation (not public)"));
      tip.appendChild(el("span", "nj-tip-line", plural(+d.size || 0, "person", "people")));
      tip.appendChild(el("span", "nj-tip-line",
        plural(n.conversations, "conversation", "conversations") + " with " +
        plural(n.degree, "other organisation", "other organisations")));
      return;
    }
    if (!d.label) {
      tip.appendChild(el("strong", "nj-tip-name", "A participant (not public)"));
      tip.appendChild(el("span", "nj-tip-line", "met " + plural(n.degree, "different person", "different people")));
      return;
    }
    tip.appendChild(el("strong", "nj-tip-name", String(d.label)));
    if (d.org) tip.appendChild(el("span", "nj-tip-line nj-tip-org", String(d.org)));
    tip.appendChild(el("span", "nj-tip-line", "met " + plural(n.degree, "different person", "different people")));
    if (d.me) tip.appendChild(el("span", "nj-tip-line nj-tip-me", "This is me"));
    var posts = Array.isArray(d.posts) ? d.posts : [];
    if (posts.length) {
      // The links themselves live in the details panel, where the keyboard can reach them.
      tip.appendChild(el("span", "nj-tip-line nj-tip-posts",
        plural(posts.length, "post", "posts") + " (links in the details below)"));
    }
  };

  Diagram.prototype.showTip = function (n, pin) {
    if (this.selected && this.tipFor && this.tipFor.id === this.selected && n.id !== this.selected && !pin) {
      return; // a clicked person's card stays until cleared
    }
    this.tipFor = n;
    this.fillTip(n);
    var tip = this.tooltip;
    tip.hidden = false;
    tip.classList.toggle("nj-pinned", !!pin || this.selected === n.id);
    var p = this.place(n);
    var sx = this.transform.applyX(p[0]);
    var sy = this.transform.applyY(p[1]);
    var stageBox = this.stage.getBoundingClientRect();
    var hostBox = this.host.getBoundingClientRect();
    var shownW = stageBox.width || this.width;
    var ratio = shownW / this.width;
    var left = stageBox.left - hostBox.left + sx * ratio;
    var top = stageBox.top - hostBox.top + sy * ratio;
    var tw = tip.offsetWidth;
    var th = tip.offsetHeight;
    var maxLeft = Math.max(4, hostBox.width - tw - 4);
    var x = Math.min(maxLeft, Math.max(4, left + 12));
    // Above the person if it fits inside the drawing, otherwise below.
    var stageTop = stageBox.top - hostBox.top;
    var y = top - th - 12;
    if (y < stageTop + 4) y = top + 14;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  };

  Diagram.prototype.hideTip = function () {
    this.tooltip.hidden = true;
    this.tooltip.classList.remove("nj-pinned");
    this.tipFor = null;
  };

  // ---------------------------------------------------------------- stepper

  Diagram.prototype.summary = function () {
    var view = this.current;
    var what = this.view === "orgs"
      ? plural(view.nodes.length, "organisation", "organisations")
      : plural(view.nodes.length, "person", "people");
    return "Round " + this.round + " of " + this.rounds.length + ": " + what + ", " +
      plural(view.links.length, "connection", "connections") +
      (this.mode === "round" ? " (this round only)" : "");
  };

  Diagram.prototype.updateStatus = function () {
    var text = this.summary();
    if (this.surface) {
      this.surface.setAttribute("aria-label", "Network diagram. " + text +
        ". Use the arrow keys to move between " + (this.view === "orgs" ? "organisations" : "people") +
        ", Home and End for the first and last, Enter to highlight connections and show details," +
        " Escape to clear.");
    }
    if (!this.status) return;
    var idx = this.rounds.indexOf(this.round);
    this.slider.value = String(idx);
    var meta = this.payload.rounds[idx] || {};
    this.sliderValue.textContent = meta.title ? String(meta.title) : "Round " + this.round;
    this.slider.setAttribute("aria-valuetext", this.sliderValue.textContent);
    this.status.textContent = text;
    this.prevBtn.disabled = idx <= 0;
    this.nextBtn.disabled = idx >= this.rounds.length - 1;
    if (this.modeInputs) this.modeInputs[this.mode].checked = true;
  };

  Diagram.prototype.setRound = function (k) {
    if (this.rounds.indexOf(k) < 0 || k === this.round) return;
    this.round = k;
    this.render(true);
    if (this.tipFor && this.current.byId[this.tipFor.id]) this.showTip(this.current.byId[this.tipFor.id]);
    else this.hideTip();
  };

  Diagram.prototype.setMode = function (mode) {
    if (mode !== "round" && mode !== "cumulative") return;
    this.mode = mode;
    this.render(true);
    this.hideTip();
  };

  Diagram.prototype.step = function (delta) {
    var idx = this.rounds.indexOf(this.round) + delta;
    if (idx < 0 || idx >= this.rounds.length) return false;
    this.setRound(this.rounds[idx]);
    return true;
  };

  Diagram.prototype.togglePlay = function () {
    if (this.timer) { this.stop(); return; }
    var self = this;
    if (this.rounds.indexOf(this.round) >= this.rounds.length - 1) this.setRound(this.rounds[0]);
    this.playBtn.setAttribute("aria-pressed", "true");
    this.playBtn.setAttribute("aria-label", "Pause");
    this.playBtn.title = "Pause";
    this.playBtn.querySelector(".nj-icon").textContent = "\u275a\u275a";
    this.timer = window.setInterval(function () {
      if (!self.step(1)) self.stop();
    }, PLAY_INTERVAL_MS);
  };

  Diagram.prototype.stop = function () {
    if (!this.timer) return;
    window.clearInterval(this.timer);
    this.timer = null;
    this.playBtn.setAttribute("aria-pressed", "false");
    this.playBtn.setAttribute("aria-label", "Play");
    this.playBtn.title = "Play";
    this.playBtn.querySelector(".nj-icon").textContent = "\u25b6";
  };

  // -------------------------------------------------------------------- init

  function init() {
    if (!window.d3) return;
    var figures = document.querySelectorAll("figure.nj-diagram");
    if (!figures.length) return;
    var payload = readPayload();
    if (!payload || !Array.isArray(payload.nodes)) return;
    var colours = assignColours(payload);
    Array.prototype.forEach.call(figures, function (figure) {
      if (figure.getAttribute("data-nj-ready")) return;
      try {
        registry.push(new Diagram(figure, payload, colours));
      } catch (e) {
        if (window.console) console.error("netjournal: could not draw a diagram", e);
      }
    });
  }

  window.NetJournal = { diagrams: registry, init: init };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
