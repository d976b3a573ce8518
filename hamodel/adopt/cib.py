"""The Pacemaker CIB (``cibadmin -Q`` XML) -> resources, fencing, constraints, properties.

Parsed with defusedxml: a document type, an entity or an external
reference is refused, so that no entity expansion (billion laughs) or
file read can happen; nesting deeper than :data:`MAX_DEPTH` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hamodel.adopt.source import MAX_DEPTH, AdoptError, Unmapped, safe_name, shown


@dataclass
class Primitive:
    id: str
    cls: str
    provider: str | None
    type: str
    attrs: dict[str, str]
    line: int
    clone: str | None = None  # the clone's id
    promotable: bool = False
    clone_meta: dict[str, str] = field(default_factory=dict)
    group: str | None = None

    @property
    def agent(self) -> str:
        return ":".join(x for x in (self.cls, self.provider, self.type) if x)

    @property
    def handle(self) -> str:
        """How constraints name it (the clone or group when it has one)."""
        return self.clone or self.group or self.id


@dataclass
class Cib:
    file: str
    properties: dict[str, str] = field(default_factory=dict)
    primitives: list[Primitive] = field(default_factory=list)
    colocations: list[tuple[str, str, str, int]] = field(default_factory=list)  # rsc, with, score, line
    orders: list[tuple[str, str, str, int]] = field(default_factory=list)  # first, then, kind, line
    locations: list[tuple[str, str, str, int]] = field(default_factory=list)  # rsc, node, score, line
    rsc_defaults: dict[str, str] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)


_LINES: dict[int, int] = {}


def _line(el) -> int:
    return _LINES.get(id(el), 0)


def _read(text: str):
    """The document's root, each element's line kept in :data:`_LINES` (ElementTree has none)."""
    from xml.etree.ElementTree import TreeBuilder

    import defusedxml.ElementTree as DET

    class Builder(TreeBuilder):
        def start(self, tag, attrs):
            el = super().start(tag, attrs)
            _LINES[id(el)] = parser.parser.CurrentLineNumber
            return el

    parser = DET.DefusedXMLParser(target=Builder(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.feed(text)
    return parser.close()


def _nvpairs(el) -> dict[str, str]:
    return {nv.get("name", ""): nv.get("value", "") for nv in el.iter("nvpair")}


def parse_cib(text: str, label: str) -> Cib:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException

    _LINES.clear()
    try:
        root = _read(text)
    except DefusedXmlException as exc:
        raise AdoptError(
            f"{label}: refused: {type(exc).__name__} (entities, DTDs and external references are not read)"
        ) from None
    except ParseError as exc:
        line = exc.position[0] if exc.position else 0
        raise AdoptError(f"{label}:{line}: not well-formed XML") from None
    _depth(root, label, 0)
    cib = Cib(file=label)
    cfg = root if root.tag == "configuration" else root.find("configuration")
    if cfg is None:
        raise AdoptError(f"{label}: no <configuration> element: not a CIB (collect `cibadmin -Q`)")
    for ps in cfg.iter("cluster_property_set"):
        cib.properties.update(_nvpairs(ps))
    rd = cfg.find("rsc_defaults")
    if rd is not None:
        cib.rsc_defaults = _nvpairs(rd)
    res = cfg.find("resources")
    for el in list(res) if res is not None else []:
        _resource(cib, el, label)
    cons = cfg.find("constraints")
    for c in list(cons) if cons is not None else []:
        if c.tag == "rsc_colocation":
            cib.colocations.append((c.get("rsc", ""), c.get("with-rsc", ""), c.get("score", ""), _line(c)))
        elif c.tag == "rsc_order":
            cib.orders.append((c.get("first", ""), c.get("then", ""), c.get("kind", "Mandatory"), _line(c)))
        elif c.tag == "rsc_location" and c.get("node"):
            cib.locations.append((c.get("rsc", ""), c.get("node", ""), c.get("score", ""), _line(c)))
        else:
            cib.unmapped.append(
                Unmapped(
                    label,
                    _line(c),
                    f"<{c.tag} id={shown(c.get('id', ''))}>",
                    "unsupported",
                    "rule-based constraints are not modelled",
                )
            )
    return cib


def _depth(el, label: str, d: int) -> None:
    if d > MAX_DEPTH:
        raise AdoptError(f"{label}:{_line(el)}: XML nested more than {MAX_DEPTH} deep: refused")
    for c in el:
        _depth(c, label, d + 1)


def _resource(cib: Cib, el, label: str, clone=None, group=None) -> None:
    if el.tag == "primitive":
        rid = el.get("id", "")
        if not safe_name(rid):
            cib.unmapped.append(Unmapped(label, _line(el), f"primitive {shown(rid)}", "unsafe", "not a plain name"))
            return
        ia = el.find("instance_attributes")
        p = Primitive(
            rid,
            el.get("class", ""),
            el.get("provider"),
            el.get("type", ""),
            _nvpairs(ia) if ia is not None else {},
            _line(el),
            group=group,
        )
        if clone is not None:
            meta = clone.find("meta_attributes")
            p.clone = clone.get("id")
            p.clone_meta = _nvpairs(meta) if meta is not None else {}
            p.promotable = clone.tag == "master" or p.clone_meta.get("promotable") == "true"
        cib.primitives.append(p)
    elif el.tag in ("clone", "master"):
        for c in el:
            if c.tag in ("primitive", "group"):
                _resource(cib, c, label, clone=el)
    elif el.tag == "group":
        for c in el:
            _resource(cib, c, label, clone=clone, group=el.get("id"))
    elif el.tag == "bundle":
        _bundle(cib, el, label)
    else:
        cib.unmapped.append(Unmapped(label, _line(el), f"<{el.tag}>", "unsupported"))


_RUNTIMES = ("podman", "docker", "rkt")


def _bundle(cib: Cib, el, label: str) -> None:
    """A bundle (containers Pacemaker runs on ``replicas`` nodes, as TripleO
    writes them) reads as a clone: of its primitive when it has one (the
    resource agent inside the container), else of the container itself,
    whose process is the image's last path part (``.../haproxy:tag``)."""
    bid = el.get("id", "")
    if not safe_name(bid):
        cib.unmapped.append(Unmapped(label, _line(el), f"bundle {shown(bid)}", "unsafe", "not a plain name"))
        return
    rt = next((c for c in el if c.tag in _RUNTIMES), None)
    if rt is None:
        cib.unmapped.append(
            Unmapped(
                label,
                _line(el),
                f"bundle {shown(bid)}",
                "unsupported",
                "no podman/docker element: which containers it runs is unknown",
            )
        )
        return
    meta = {"clone-max": rt.get("replicas", "1")}
    if rt.get("promoted-max") or rt.get("masters"):
        meta["promoted-max"] = rt.get("promoted-max") or rt.get("masters")
    prim = next((c for c in el if c.tag == "primitive"), None)
    if prim is not None:
        n = len(cib.primitives)
        _resource(cib, prim, label)
        for p in cib.primitives[n:]:
            p.clone, p.clone_meta, p.promotable = bid, meta, "promoted-max" in meta
        return
    image = rt.get("image", "")
    process = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    if not safe_name(process):
        cib.unmapped.append(
            Unmapped(label, _line(rt), f"bundle {bid} image", "ambiguous", "no process name in the image name")
        )
        return
    cib.primitives.append(Primitive(bid, "bundle", None, process, {}, _line(el), clone=bid, clone_meta=meta))
