/* hamodel failure explorer: fail and restore components, see the services' states.
 *
 * The page embeds the JSON that hamodel's build writes (generators/explorer):
 * every service's success formula as a table of gates, children before
 * parents. Evaluating it is one forward pass; this file knows no failure rule.
 * Every model string reaches the page through textContent (never HTML).
 */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    var k;
    for (k in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) {
        if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
      }
    }
    (children || []).forEach(function (c) { if (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return e;
  }

  /* The value of every gate with the components of `failed` (a Set of indices) down. */
  function evaluate(gates, failed) {
    var out = new Uint8Array(gates.length);
    var i, g, j, n, ops;
    for (i = 0; i < gates.length; i++) {
      g = gates[i];
      switch (g[0]) {
        case "T": out[i] = 1; break;
        case "F": out[i] = 0; break;
        case "v": out[i] = failed.has(g[1]) ? 0 : 1; break;
        case "not": out[i] = out[g[1]] ? 0 : 1; break;
        case "and":
          out[i] = 1;
          for (j = 0; j < g[1].length; j++) { if (!out[g[1][j]]) { out[i] = 0; break; } }
          break;
        case "or":
          out[i] = 0;
          for (j = 0; j < g[1].length; j++) { if (out[g[1][j]]) { out[i] = 1; break; } }
          break;
        case "k":
          ops = g[2]; n = 0;
          for (j = 0; j < ops.length; j++) { n += out[ops[j]]; }
          out[i] = n >= g[1] ? 1 : 0;
          break;
        default: throw new Error("unknown gate " + g[0]);
      }
    }
    return out;
  }

  function Explorer(root, data) {
    this.root = root;
    this.data = data;
    this.index = {};
    this.failed = new Set();
    this.buttons = {};
    var self = this;
    data.components.forEach(function (c, i) { self.index[c] = i; });
  }

  Explorer.prototype.label = function (cid) { return this.data.labels[cid] || cid; };

  Explorer.prototype.button = function (cid, text, cls) {
    var self = this;
    var b = el("button", {"type": "button", "class": "hx-comp hx-" + cid.split(":")[0] + (cls ? " " + cls : ""),
                          "data-component": cid, "aria-pressed": "false",
                          "title": "Fail / restore " + this.label(cid)}, [text]);
    b.addEventListener("click", function () { self.toggle(cid); });
    (this.buttons[cid] = this.buttons[cid] || []).push(b);
    return b;
  };

  Explorer.prototype.toggle = function (cid) {
    if (this.failed.has(cid)) { this.failed.delete(cid); } else { this.failed.add(cid); }
    this.update();
  };

  Explorer.prototype.restoreAll = function () { this.failed.clear(); this.update(); };

  Explorer.prototype.nodeBox = function (name) {
    var d = this.data, self = this;
    var n = d.nodes.filter(function (x) { return x.name === name; })[0];
    var box = el("div", {"class": "hx-node", "data-node": name});
    box.appendChild(this.button(n.component, name, "hx-node-button"));
    if (n.roles.length) { box.appendChild(el("div", {"class": "hx-meta", "text": n.roles.join(", ")})); }
    if (n.power.length) { box.appendChild(el("div", {"class": "hx-meta", "text": "power: " + n.power.join(" or ")})); }
    if (n.interfaces.length) {
      box.appendChild(el("div", {"class": "hx-meta", "text": n.interfaces.map(function (i) {
        return i[0] + " (" + i[1] + (i[2].length ? " \u2192 " + i[2].join(" + ") : "") + ")";
      }).join(", ")}));
    }
    if (n.processes.length) {
      var procs = el("div", {"class": "hx-procs", "role": "group", "aria-label": "processes on " + name});
      n.processes.forEach(function (p) { procs.appendChild(self.button(p, p.slice(5, p.lastIndexOf("@")))); });
      box.appendChild(procs);
    }
    return box;
  };

  Explorer.prototype.domainBox = function (dom) {
    var self = this;
    var box = el("div", {"class": "hx-domain hx-kind-" + dom.kind.replace(/[^a-z0-9-]/gi, "_"), "data-domain": dom.name});
    var head = el("div", {"class": "hx-domain-head"}, [
      el("span", {"class": "hx-kind", "text": dom.kind}), this.button(dom.component, dom.name)]);
    box.appendChild(head);
    if (dom.feeds.length) { box.appendChild(el("div", {"class": "hx-meta", "text": "feeds " + dom.feeds.join(", ")})); }
    var inner = el("div", {"class": "hx-inner"});
    dom.children.forEach(function (c) { inner.appendChild(self.domainBox(c)); });
    dom.nodes.forEach(function (n) { inner.appendChild(self.nodeBox(n)); });
    if (inner.childNodes.length) { box.appendChild(inner); }
    return box;
  };

  Explorer.prototype.build = function () {
    var d = this.data, self = this, root = this.root;
    root.textContent = "";
    var status = el("p", {"class": "hx-status", "id": "hx-status", "role": "status", "aria-live": "polite"});
    var restore = el("button", {"type": "button", "class": "hx-restore", "id": "hx-restore"}, ["Restore all"]);
    restore.addEventListener("click", function () { self.restoreAll(); });
    root.appendChild(el("div", {"class": "hx-toolbar"}, [restore, status]));

    var phys = el("section", {"class": "hx-physical", "aria-label": "Physical view"});
    phys.appendChild(el("h2", {"text": "Physical view"}));
    var boxes = el("div", {"class": "hx-domains"});
    d.domains.forEach(function (dom) { boxes.appendChild(self.domainBox(dom)); });
    if (d.loose_nodes.length) {
      var loose = el("div", {"class": "hx-domain"}, [el("div", {"class": "hx-domain-head", "text": "no failure domain"})]);
      var li = el("div", {"class": "hx-inner"});
      d.loose_nodes.forEach(function (n) { li.appendChild(self.nodeBox(n)); });
      loose.appendChild(li);
      boxes.appendChild(loose);
    }
    phys.appendChild(boxes);
    var nets = el("div", {"class": "hx-networks"});
    d.networks.forEach(function (net) {
      var row = el("div", {"class": "hx-network", "data-network": net.name}, [
        el("span", {"class": "hx-net-name", "text": net.name + " " + net.subnet}),
        el("span", {"class": "hx-meta", "text": net.switches.length ? "switches " + net.switches.join(", ") : "no switch modelled"})]);
      net.links.forEach(function (l) { row.appendChild(self.button(l, self.label(l).replace(/ \([^)]*\)$/, ""))); });
      nets.appendChild(row);
    });
    phys.appendChild(el("h3", {"text": "Networks and inter-switch links"}));
    phys.appendChild(nets);
    var rest = d.components.filter(function (c) { return !self.buttons[c]; });
    if (rest.length) {
      phys.appendChild(el("h3", {"text": "Other components"}));
      var other = el("div", {"class": "hx-other"});
      rest.forEach(function (c) { other.appendChild(self.button(c, self.label(c))); });
      phys.appendChild(other);
    }

    var svc = el("section", {"class": "hx-services", "aria-label": "Services"});
    svc.appendChild(el("h2", {"text": "Services"}));
    var table = el("table", {"class": "hx-table"});
    table.appendChild(el("thead", {}, [el("tr", {}, [el("th", {"text": "Service"}), el("th", {"text": "Strategy"}),
      el("th", {"text": "State"}), el("th", {"text": "VIP / quorum"})])]));
    var body = el("tbody");
    this.rows = {};
    d.services.forEach(function (s) {
      var state = el("td", {"class": "hx-state"});
      var extra = el("td", {"class": "hx-extra"});
      var tr = el("tr", {"data-service": s.name, "data-state": "up", "data-split": "no"},
                  [el("th", {"scope": "row", "text": s.name}), el("td", {"text": s.strategy}), state, extra]);
      self.rows[s.name] = {tr: tr, state: state, extra: extra};
      body.appendChild(tr);
    });
    table.appendChild(body);
    svc.appendChild(table);

    var panel = el("aside", {"class": "hx-panel", "aria-label": "Consequences", "id": "hx-panel"});
    this.panel = panel;
    this.status = status;
    root.appendChild(el("div", {"class": "hx-grid"}, [phys, svc, panel]));
    this.update();
    root.setAttribute("data-ready", "yes");
  };

  Explorer.prototype.update = function () {
    var d = this.data, self = this;
    var failedIdx = new Set();
    this.failed.forEach(function (c) { failedIdx.add(self.index[c]); });
    var val = evaluate(d.gates, failedIdx);
    Object.keys(this.buttons).forEach(function (c) {
      var on = self.failed.has(c);
      self.buttons[c].forEach(function (b) { b.setAttribute("aria-pressed", on ? "true" : "false"); });
    });
    var by = {up: [], degraded: [], partial: [], down: []}, split = [];
    d.services.forEach(function (s) {
      var st;
      if (val[s.up]) {
        st = s.members.some(function (m) { return !val[m[1]]; }) ? "degraded" : "up";
      } else {
        st = (s.partial !== null && val[s.partial]) ? "partial" : "down";
      }
      var isSplit = s.split !== null && !!val[s.split];
      by[st].push(s);
      if (isSplit) { split.push(s); }
      var row = self.rows[s.name];
      row.tr.setAttribute("data-state", st);
      row.tr.setAttribute("data-split", isSplit ? "yes" : "no");
      row.state.textContent = st + (isSplit ? ", split brain" : "");
      row.extra.textContent = self.extraText(s, val, isSplit);
    });
    this.status.textContent = this.failed.size === 0 ? "Nothing failed: press a component to fail it." :
      this.failed.size + " failed: " + by.down.length + " down, " + by.partial.length + " partial, " +
      by.degraded.length + " degraded, " + split.length + " in split brain.";
    this.renderPanel(by, split);
  };

  Explorer.prototype.extraText = function (s, val, isSplit) {
    var parts = [];
    if (s.vip) {
      var ok = s.vip.holders.filter(function (h) { return val[h[2]]; });
      if (!ok.length) { parts.push("no holder may hold " + s.vip.vips.join(", ")); }
      else if (isSplit) { parts.push("split brain: " + ok.map(function (h) { return h[0]; }).join(" and ") + " each hold it"); }
      else if (s.vip.pacemaker) { parts.push("Pacemaker may run it on " + ok.map(function (h) { return h[0]; }).join(", ")); }
      else { parts.push("VIP on " + ok[0][0] + (ok.length > 1 ? " (backups " + ok.slice(1).map(function (h) { return h[0]; }).join(", ") + ")" : "")); }
    }
    if (s.quorum) {
      var q = s.quorum.members.filter(function (m) { return val[m[1]]; }).map(function (m) { return m[0]; });
      parts.push(q.length ? "quorum: " + q.join(", ") : "no quorum (needs " + s.quorum.need + " of " + s.quorum.voters + " votes)");
    }
    if (s.split_note) { parts.push(s.split_note); }
    return parts.join("; ");
  };

  Explorer.prototype.renderPanel = function (by, split) {
    var d = this.data, self = this, p = this.panel;
    p.textContent = "";
    p.appendChild(el("h2", {"text": "Consequences"}));
    if (this.failed.size === 0) {
      p.appendChild(el("p", {"text": "Every component is up. The analysis searched failure sets of up to " + d.k +
        " components; the page evaluates any combination exactly."}));
      return;
    }
    var failedList = el("ul", {"class": "hx-failed"});
    Array.from(this.failed).sort().forEach(function (c) {
      var b = el("button", {"type": "button", "class": "hx-unfail", "data-restore": c}, ["restore"]);
      b.addEventListener("click", function () { self.toggle(c); });
      failedList.appendChild(el("li", {}, [self.label(c) + " ", b]));
    });
    p.appendChild(el("h3", {"text": "Failed"}));
    p.appendChild(failedList);
    if (this.failed.size > d.k) {
      p.appendChild(el("p", {"class": "hx-note", "text": this.failed.size + " failures: more than the " + d.k +
        " the analysis searched for findings. The states are still exact (the same formulas); no finding covers this combination as a whole."}));
    }
    function list(title, items, cls) {
      if (!items.length) { return; }
      p.appendChild(el("h3", {"text": title + " (" + items.length + ")"}));
      p.appendChild(el("ul", {"class": cls}, items.map(function (s) { return el("li", {"text": s.name}); })));
    }
    list("Down", by.down, "hx-down");
    list("Split brain", split, "hx-split");
    list("Partial", by.partial, "hx-partial");
    list("Degraded", by.degraded, "hx-degraded");
    if (!by.down.length && !by.partial.length && !split.length) {
      p.appendChild(el("p", {"text": "No service is lost."}));
    }
    var hit = {};
    by.down.concat(by.partial, split).forEach(function (s) { hit[s.name] = true; });
    var failed = this.failed;
    var cuts = [];
    Object.keys(d.cut_sets).sort().forEach(function (s) {
      d.cut_sets[s].forEach(function (cs) {
        if (cs.every(function (c) { return failed.has(c); })) { cuts.push(s + ": " + cs.map(function (c) { return self.label(c); }).join(" + ")); }
      });
    });
    if (cuts.length) {
      p.appendChild(el("h3", {"text": "Minimal cut sets of the analysis in this failure"}));
      p.appendChild(el("ul", {"class": "hx-cuts"}, cuts.map(function (t) { return el("li", {"text": t}); })));
    }
    var fs = d.findings.filter(function (f) { return f.services.some(function (s) { return hit[s]; }); });
    if (fs.length) {
      p.appendChild(el("h3", {"text": "Findings"}));
      fs.forEach(function (f) {
        var scenario = f.scenario.length && f.scenario.every(function (c) { return failed.has(c); });
        var a = el("a", {"href": f.link, "text": f.title});
        p.appendChild(el("div", {"class": "hx-finding hx-sev-" + f.severity, "data-finding": f.id}, [
          el("p", {}, [el("strong", {"text": f.severity + " "}), a, scenario ? " (this is its scenario)" : ""]),
          el("p", {"text": f.impact}), el("p", {"class": "hx-meta", "text": "Mitigation: " + f.mitigation})]));
      });
    }
    p.appendChild(el("p", {"class": "hx-meta", "text": d.runbooks.length ? "" :
      "Runbooks: hamodel generates none for this model yet; the findings' mitigations are the guidance."}));
  };

  function start() {
    var root = document.getElementById("hamodel-explorer");
    var src = document.getElementById("hamodel-explorer-data");
    if (!root || !src) { return; }
    var data = JSON.parse(src.textContent);
    var ex = new Explorer(root, data);
    ex.build();
    window.hamodelExplorer = ex;
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
