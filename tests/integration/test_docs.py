"""The published documentation: `make docs` (sphinx-build -W) builds every
model's generated architecture document, the derived limitations are the
analysis' findings, every diagram loads in headless Chromium and no internal
link is broken. A broken model or a failed analysis fails the build.

Chromium is driven through chromedriver's WebDriver HTTP API with urllib
(no selenium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]


def sphinx_build(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``python -m sphinx -W --keep-going -b html src out`` (the ``make docs`` command)."""
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", *extra, str(src), str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=src.parent)


def copy_docs(dest: Path) -> Path:
    """A private copy of docs/ (without build output) so tests never race
    with ``make docs`` in the working tree."""
    target = dest / "docs"
    shutil.copytree(REPO / "docs", target, ignore=shutil.ignore_patterns("_build", "generated"))
    (dest / "models").symlink_to(REPO / "models", target_is_directory=True)
    return target


# -- reading HTML ----------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (attribute, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])  # type: ignore[arg-type]
        if tag == "a" and a.get("href"):
            self.links.append(("href", a["href"]))  # type: ignore[arg-type]
        if tag in ("img", "script") and a.get("src"):
            self.links.append(("src", a["src"]))  # type: ignore[arg-type]
        if tag == "link" and a.get("href"):
            self.links.append(("href", a["href"]))  # type: ignore[arg-type]


def parse_html(path: Path) -> _Collector:
    c = _Collector()
    c.feed(path.read_text(encoding="utf-8"))
    return c


def broken_internal_links(site: Path) -> list[str]:
    """Every internal href/src of every page that points to a missing file or anchor."""
    pages = {p.resolve(): parse_html(p) for p in site.rglob("*.html")}
    problems = []
    for page, parsed in sorted(pages.items()):
        for attr, value in parsed.links:
            url = urlparse(value)
            if url.scheme or value.startswith("//") or value.startswith("mailto:"):
                continue
            target_part, fragment = url.path, url.fragment
            target = page if not target_part else (page.parent / unquote(target_part)).resolve()
            rel = page.relative_to(site.resolve())
            if not target.exists():
                problems.append(f"{rel}: {attr}={value!r}: no such file")
                continue
            if target.is_dir():
                target = target / "index.html"
                if not target.exists():
                    problems.append(f"{rel}: {attr}={value!r}: directory without index.html")
                    continue
            if fragment and target.suffix == ".html":
                ids = pages.get(target.resolve()) or parse_html(target)
                if unquote(fragment) not in ids.ids:
                    problems.append(f"{rel}: {attr}={value!r}: no anchor #{fragment}")
    return problems


def section_html(page: Path, section_id: str) -> str:
    """The HTML of ``<section id=section_id>`` (up to its closing tag)."""
    text = page.read_text(encoding="utf-8")
    start = text.index(f'<section id="{section_id}">')
    depth, i = 0, start
    for m in re.finditer(r"<(/?)section\b", text[start:]):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            i = start + m.end()
            break
    return text[start:i]


def limitation_ids(page: Path) -> list[str]:
    """Finding ids listed in the generated "Architecture limitations" section."""
    html = section_html(page, "architecture-limitations")
    return re.findall(r'<span class="pre">([^<]+)</span></code> \(', html)


# -- headless Chromium through chromedriver ------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A minimal W3C WebDriver client over chromedriver (urllib only)."""

    def __init__(self, profile: Path):
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status")["value"].get("ready"):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": CHROMIUM, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]},
                }
            }
        }
        try:
            self.session = self._call("POST", "/session", caps)["value"]["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"WebDriver {method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def run_async(self, script: str) -> object:
        return self._call("POST", f"/session/{self.session}/execute/async", {"script": script, "args": []})["value"]

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self._call("DELETE", f"/session/{self.session}")
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# Loads every image eagerly and reports each one's natural width once it
# has loaded or failed.
IMAGES_SCRIPT = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = 'eager'; });
Promise.all(imgs.map(i => (i.complete && i.naturalWidth > 0) ? Promise.resolve() : new Promise(r => {
  i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000);
}))).then(() => done(imgs.map(i => ({src: i.getAttribute('src'), width: i.naturalWidth}))));
"""


# -- the tests -----------------------------------------------------------------------

MODELS = sorted(p.stem for p in (REPO / "models").glob("*.py") if not p.name.startswith("_"))

# The reference document's five limitations, as the failure analysis names
# them (hamodel/analysis/failures.py): VRRP split brain, the cinder-volume
# SPOF, the neutron-lbaas-agent partial outage, monitoring required, and
# manual recovery after a full restart.
KEEPALIVED_LIMITATIONS = {
    "split-brain:haproxy",
    "spof:cinder-volume",
    "partial-outage:neutron-lbaas-agent",
    "monitoring-required",
    "manual-recovery",
}


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The documentation built once per session, exactly as ``make docs``
    does (``sphinx -W --keep-going -b html``), from a private copy of docs/."""
    work = tmp_path_factory.mktemp("docs")
    src = copy_docs(work)
    out = work / "html"
    start = time.perf_counter()
    proc = sphinx_build(src, out)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, f"sphinx-build -W failed ({elapsed:.1f} s):\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    out.joinpath(".build-seconds").write_text(f"{elapsed:.1f}")
    return out


def test_every_model_is_published(site: Path) -> None:
    index = (site / "generated" / "index.html").read_text(encoding="utf-8")
    for stem in MODELS:
        page = site / "generated" / stem / "index.html"
        assert page.is_file(), f"no generated document for models/{stem}.py"
        assert f"{stem}/index.html" in index
        html = page.read_text(encoding="utf-8")
        for section in (
            "overview",
            "high-availability-strategies",
            "services",
            "placement",
            "failure-domains",
            "architecture-limitations",
            "failure-scenarios",
            "diagrams",
        ):
            assert f'<section id="{section}">' in html, f"{stem}: no {section} section"


def test_keepalived_limitations_are_the_five_derived_ones(site: Path) -> None:
    page = site / "generated" / "openstack_keepalived" / "index.html"
    found = limitation_ids(page)
    assert sorted(found) == sorted(KEEPALIVED_LIMITATIONS), found
    section = section_html(page, "architecture-limitations")
    # Manual recovery names the per-service procedure of each quorum cluster.
    for service, words in (("galera", "highest seqno"), ("rabbitmq", "force_boot")):
        assert service in section and words in section, f"no {service} recovery procedure"
    # Lower-severity findings are in the other table, not in the limitations.
    others = section_html(page, "other-findings")
    assert "quorum-loss:galera" in others and "quorum-loss:galera" not in section


def test_pacemaker_limitations_have_no_cinder_volume_spof(site: Path) -> None:
    page = site / "generated" / "openstack_pacemaker" / "index.html"
    found = limitation_ids(page)
    assert "spof:cinder-volume" not in found, found
    assert "split-brain:haproxy" not in found, found
    assert "cinder-volume" in section_html(page, "services")


def test_document_views(site: Path) -> None:
    html = (site / "generated" / "openstack_keepalived" / "index.html").read_text(encoding="utf-8")
    # The derived "High availability strategies" list of the reference.
    strategies = section_html(
        site / "generated" / "openstack_keepalived" / "index.html", "high-availability-strategies"
    )
    for title in (
        "Keepalived (VRRP)",
        "Access via an HAProxy virtual IP",
        "Built-in application clustering",
        "No high availability (active/passive: one instance)",
        "Sharded, no fail-over",
    ):
        assert title in strategies
    # Service table: the one VIP's address said once, each endpoint its port; VRRP group with VRID and priorities.
    services = section_html(site / "generated" / "openstack_keepalived" / "index.html", "services")
    assert "port of the virtual IP 192.168.1.220" in services and ":3306" in services and ":5000" in services
    network = section_html(
        site / "generated" / "openstack_keepalived" / "index.html", "virtual-ips-vrrp-groups-and-haproxy-frontends"
    )
    assert "VRID" in network and re.search(r"ctl-\d \(\d+\)", network)
    # Failure scenarios: one row per node / domain / switch.
    scenarios = section_html(site / "generated" / "openstack_keepalived" / "index.html", "failure-scenarios")
    for comp in ("node ctl-1", "rack r2", "switch sw-3"):  # in plain words, not internal ids
        assert comp in scenarios
    # Availability estimates where the model has figures (multirack only).
    assert '<section id="availability-estimates">' in (site / "generated" / "multirack" / "index.html").read_text()
    assert '<section id="availability-estimates">' not in html


def test_configs_are_linked(site: Path) -> None:
    html = (site / "generated" / "openstack_keepalived" / "index.html").read_text(encoding="utf-8")
    assert "keepalived.conf" in html and "haproxy.cfg" in html
    configs = (site / "generated" / "openstack_keepalived" / "configs.html").read_text(encoding="utf-8")
    assert "vrrp_instance" in configs and "listen galera-3306" in configs


def test_pacemaker_configs_are_published_redacted(site: Path) -> None:
    """The Pacemaker model's corosync.conf and CIB are shown in full, the
    fence password (from the environment at build time) as REDACTED."""
    configs = (site / "generated" / "openstack_pacemaker" / "configs.html").read_text(encoding="utf-8")
    assert "corosync_votequorum" in configs and "ip-controller-vip" in configs and "pcs-setup.sh" in configs
    assert "REDACTED" in configs
    password = os.environ["HAMODEL_IPMI_PASSWORD"]
    assert not [p for p in site.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]
    guide = (site / "guide" / "pacemaker.html").read_text(encoding="utf-8")
    assert "generated/openstack_pacemaker/configs.html" in guide


def test_no_internal_link_is_broken(site: Path) -> None:
    problems = broken_internal_links(site)
    assert not problems, "\n".join(problems[:50])


def test_diagrams_are_self_contained_in_the_site(site: Path) -> None:
    svgs = list((site / "_images").glob("*.svg"))
    assert len(svgs) >= 6
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        assert "site-packages" not in text
        assert not re.search(r'(?:xlink:)?href="(?!data:|#)', text), svg.name


def test_chromium_loads_every_diagram(site: Path, tmp_path: Path) -> None:
    pages = [site / "index.html", site / "guide" / "docs.html"]
    pages += [site / "generated" / stem / "index.html" for stem in MODELS]
    browser = Browser(tmp_path / "profile")
    try:
        for page in pages:
            browser.open(page.as_uri())
            images = browser.run_async(IMAGES_SCRIPT)
            assert isinstance(images, list)
            if page.parent.name in MODELS or page.name == "docs.html":
                assert any(str(i["src"]).endswith(".svg") for i in images), f"{page}: no diagram"
            broken = [i for i in images if not i["width"]]
            assert not broken, f"{page}: images did not load: {broken}"
    finally:
        browser.close()


# -- a broken model or a failed analysis fails the build ------------------------------

BROKEN_MODEL = """
from hamodel import Architecture, Node, Service
from hamodel.strategies import Coordinated

architecture = Architecture(
    "broken", nodes=[Node("n1", roles={"controller"})],
    services=[Service("api", on="no-such-role", strategy=Coordinated())],
)
"""

UNPLACEABLE_MODEL = """
from hamodel import Architecture, Node, Service
from hamodel.strategies import AppCluster

architecture = Architecture(
    "unplaceable", nodes=[Node(f"n{i}", roles={"db"}) for i in (1, 2)],
    services=[Service("galera", on="db", replicas=3, strategy=AppCluster())],
)
"""


def _project(root: Path, models: dict[str, str], index: str) -> Path:
    (root / "models").mkdir(parents=True)
    for name, text in models.items():
        (root / "models" / f"{name}.py").write_text(text)
    docs = root / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text('extensions = ["hamodel.sphinx"]\nhamodel_models = ["models/*.py"]\n')
    (docs / "index.rst").write_text(index)
    return docs


def test_broken_model_is_a_warning_that_fails_the_build(tmp_path: Path) -> None:
    docs = _project(
        tmp_path,
        {"broken": BROKEN_MODEL},
        ("Test\n====\n\n.. toctree::\n\n   generated/index\n\n.. hamodel-services:: models/broken.py\n"),
    )
    proc = sphinx_build(docs, tmp_path / "html")
    assert proc.returncode != 0
    # The model's own error, naming the object and field, is in the warning,
    # once for the published page and once for the directive (with its line).
    assert "services[api].on: no node has role 'no-such-role'" in proc.stderr
    assert re.search(r"index.rst:\d+: WARNING: hamodel: models/broken.py", proc.stderr), proc.stderr
    # Without -W the page still exists and shows the error.
    page = (docs / "generated" / "broken" / "index.rst").read_text()
    assert "no node has role" in page


def test_failed_analysis_is_a_warning_that_fails_the_build(tmp_path: Path) -> None:
    docs = _project(tmp_path, {"unplaceable": UNPLACEABLE_MODEL}, "Test\n====\n\n.. toctree::\n\n   generated/index\n")
    proc = sphinx_build(docs, tmp_path / "html")
    assert proc.returncode != 0
    assert "WARNING: hamodel: models/unplaceable.py" in proc.stderr
    assert "galera" in proc.stderr


def test_directives_in_a_hand_written_page(tmp_path: Path) -> None:
    model = (REPO / "models" / "openstack_keepalived.py").read_text()
    docs = _project(
        tmp_path,
        {},
        (
            "Test\n====\n\n"
            ".. hamodel-services:: " + str(REPO / "models" / "openstack_keepalived.py") + "\n\n"
            ".. hamodel-limitations:: " + str(REPO / "models" / "openstack_keepalived.py") + "\n\n"
            ".. hamodel-diagram:: " + str(REPO / "models" / "openstack_keepalived.py") + "\n"
            "   :view: logical\n\n"
            ".. hamodel-diagram:: " + str(REPO / "models" / "openstack_keepalived.py") + "\n"
            "   :finding: spof:cinder-volume\n"
        ),
    )
    (docs / "conf.py").write_text('extensions = ["hamodel.sphinx"]\nhamodel_models = []\n')
    del model
    proc = sphinx_build(docs, tmp_path / "html")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "cinder-volume is a single point of failure" in html
    assert "virtual IP 192.168.1.220" in html and ":3306" in html
    assert html.count('.svg"') >= 2
    assert not broken_internal_links(tmp_path / "html")


def test_unknown_finding_in_a_diagram_directive_is_a_warning(tmp_path: Path) -> None:
    path = REPO / "models" / "openstack_keepalived.py"
    docs = _project(tmp_path, {}, f"Test\n====\n\n.. hamodel-diagram:: {path}\n   :finding: no-such-finding\n")
    (docs / "conf.py").write_text('extensions = ["hamodel.sphinx"]\nhamodel_models = []\n')
    proc = sphinx_build(docs, tmp_path / "html")
    assert proc.returncode != 0
    assert "no finding 'no-such-finding'" in proc.stderr


# -- the document generator on its own (no Sphinx build) ---------------------------


@pytest.fixture(scope="module")
def keepalived_dep(resolved):
    return resolved("openstack_keepalived")


def test_acknowledged_finding_shows_the_reason(keepalived_dep) -> None:
    from hamodel.generators.docs import render_section

    from hamodel.model import Acknowledgement
    from hamodel.pipeline import resolve

    arch = keepalived_dep.architecture.model_copy(
        update={
            "acknowledgements": [
                Acknowledgement("spof:cinder-volume", "accepted until cinder-volume runs active/active")
            ]
        }
    )
    text = render_section(resolve(arch), "limitations", sections=True, slug="x")
    block = text[text.index("cinder-volume is a single point of failure") :]  # its id ends the block
    assert ":Acknowledged: accepted until cinder-volume runs active/active" in block.split(".. _x-finding")[0]


def test_every_section_is_valid_restructuredtext(keepalived_dep) -> None:
    """Each part renders to reStructuredText that docutils parses without a
    warning, both as page sections and as directive snippets (rubrics)."""
    import docutils.core
    import docutils.utils
    from hamodel.generators.docs import SECTIONS, render_section

    for sections in (True, False):
        for part in SECTIONS:
            if part in ("diagrams", "configs"):
                continue  # Sphinx roles (download), covered by the build
            text = render_section(keepalived_dep, part, sections=sections, slug="k")
            out = docutils.core.publish_doctree(
                text,
                settings_overrides={
                    "report_level": docutils.utils.Reporter.WARNING_LEVEL,
                    "halt_level": 5,
                    "warning_stream": (stream := _Stream()),
                },
            )
            assert not stream.text, f"{part} (sections={sections}):\n{stream.text}"
            assert out.children or not text.strip(), part


def test_free_text_is_escaped() -> None:
    from hamodel.generators.docs import rst_escape

    assert rst_escape("a *b* `c` _d_ |e| [f]\nnext") == r"a \*b\* \`c\` \_d\_ \|e\| \[f\] next"


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s


def test_optional_pages_join_the_toctree_when_present(tmp_path: Path) -> None:
    """The drills work adds docs/drills.rst ("Measured failover"): it is
    listed as soon as it exists, and no dangling entry exists before."""
    from types import SimpleNamespace

    from hamodel.sphinx import _optional_toctree

    app = SimpleNamespace(srcdir=str(tmp_path))
    assert _optional_toctree(app) == ""
    (tmp_path / "drills.rst").write_text("Measured failover\n=================\n")
    assert "Measured failover <drills>" in _optional_toctree(app)


def test_dual_feeds_and_bonds_are_shown_as_they_fail(resolved) -> None:
    """The failure-domains and node tables say what the analysis uses: a
    dual-corded node is listed under each feed but does not count as inside
    it, and a bonded port is listed under every switch of the bond."""
    from hamodel.generators.docs import render_section

    dep = resolved("multirack")
    text = render_section(dep, "domains", sections=True, slug="m")
    rows = {
        r.split("\n", 1)[0].strip(): [c.strip() for c in r.split("\n     - ")[1:]] for r in text.split("   * - ")[1:]
    }
    kind, _inside, nodes, _ports, instances = rows["pdu-a"]
    assert kind == "power" and instances == "0"
    assert all(f"{n.name} \\(1 of 2 feeds\\)" in nodes for n in dep.architecture.nodes)
    for edge in ("edge-1", "edge-2"):
        assert all(f"lb-{i}/eth1 \\(bond\\)" in rows[edge][3] for i in (1, 2, 3)), rows[edge]
    overview = render_section(dep, "overview", sections=True, slug="m")
    assert "pdu-a or pdu-b \\(power\\)" in overview


def test_reference_page_states_the_facts_of_the_field(site: Path) -> None:
    """Issue 31: what a reader from the field checks on the keepalived page, on the rendered HTML."""
    page = site / "generated" / "openstack_keepalived" / "index.html"
    html = page.read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    services = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section_html(page, "services")))
    # cinder-volume: no HA, one instance, manual restart (not "Active/passive" as if it failed over).
    assert "none — one instance, manual restart on a survivor" in services
    assert "L3 HA" in services and "several agents per network" in services and "tooz over redis" in services
    # Client-side lists instead of blank endpoint cells; the stats port.
    assert "clients list ctl-1, ctl-2, ctl-3 (port 5672)" in services and "127.0.0.1:9300" in services
    # A start order is shown as such.
    assert "(starts after ceilometer-api)" in services
    # HAProxy fronts as haproxy.cfg has them: galera is roundrobin with backups and stick on dst.
    fronts = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section_html(page, "haproxy-frontends")))
    assert "roundrobin; active ctl-1, the others backup; stick on dst" in fronts and "first (single writer" not in text
    assert "cookie SERVERID" in fronts  # Horizon's stickiness
    assert "every 500 ms" in fronts and "before keepalived moves the virtual IP" in fronts
    # VRRP: unicast and why, nopreempt, the duplicate clears when the partition heals.
    vrrp = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section_html(page, "vrrp-groups")))
    assert "unicast" in vrrp and "224.0.0.18" in vrrp and "nopreempt" in vrrp and "the duplicate clears" in vrrp
    # Switches count what they cut off.
    domains = section_html(page, "failure-domains")
    assert re.search(r"<p>sw-1</p></td>\s*<td><p>switch</p></td>\s*<td><p>ctl-1 \(cut off\)</p></td>", domains)
    # The model's default stated as an assumption; scope generated from the model.
    scope = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section_html(page, "scope-and-assumptions")))
    assert "Assumed: nothing restarts a failed process" in scope and "out of scope" in scope
    assert "Failed processes are restarted by: nothing" not in text
    # No template leftovers.
    for leftover in ("VRRP and Pacemaker VIP groups", "dual-corded", "service(s)", "Acknowledged</p></th>"):
        assert leftover not in html, leftover
    # Internal ids only in the id line; the legend links to the checks page.
    limitations = section_html(page, "architecture-limitations")
    assert "proc:" not in re.sub(r'<code class="docutils literal notranslate">.*?</code>', "", limitations)
    assert "../../guide/checks.html" in limitations and "cinder-volume process on ctl-1" in limitations
    # The reference's blueprint link is kept, as a link, with the take-over procedure: once, in the
    # limitation (the strategies section does not repeat what the limitation says).
    link = 'href="https://blueprints.launchpad.net/cinder/+spec/cinder-volume-active-active-support"'
    assert html.count(link) == 1 and link in limitations
    assert "run it active/active" not in text and "start it on a surviving node" in text
    # Expected and measured per finding: the partition scenario of the drill page.
    assert "within 3.6 s of the cut" in text and "../../drills.html" in limitations
    # The Pacemaker alternative, linked.
    alt = section_html(page, "alternative-pacemaker")
    assert "../openstack_pacemaker/index.html" in alt and "drills-pacemaker.html" in alt
    # The drill page names its architecture, and its table header is text, not a link.
    drills = (site / "drills.html").read_text(encoding="utf-8")
    assert 'href="Service:port"' not in drills and "generated/openstack_keepalived/index.html" in drills


# Loads every image (as IMAGES_SCRIPT does), then reports the page's height in
# CSS pixels: the length a reader scrolls at the window's width (1400 px).
PAGE_HEIGHT_SCRIPT = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = 'eager'; });
Promise.all(imgs.map(i => (i.complete && i.naturalWidth > 0) ? Promise.resolve() : new Promise(r => {
  i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 15000);
}))).then(() => done({height: document.documentElement.scrollHeight, width: window.innerWidth}));
"""

#: Issue 31: the keepalived page was 20,466 px long at 1400 px; half of it.
HALF_LENGTH_PX = 10_233


def test_reference_page_is_half_its_length_without_losing_a_fact(site: Path, tmp_path: Path) -> None:
    """Issue 31 ("half the length"): the page measured in headless Chromium at
    1400 px is at most half its original length, and what was folded or merged
    to get there is still on the page."""
    page = site / "generated" / "openstack_keepalived" / "index.html"
    browser = Browser(tmp_path / "profile")
    try:
        browser.open(page.as_uri())
        size = browser.run_async(PAGE_HEIGHT_SCRIPT)
    finally:
        browser.close()
    assert isinstance(size, dict) and size["width"] == 1400, size
    assert 3000 < size["height"] <= HALF_LENGTH_PX, size
    html = page.read_text(encoding="utf-8")
    # The three views side by side, each image a link to its own full-size SVG, each with its PNG.
    views = section_html(page, "diagrams")
    for view in ("overview", "physical", "logical"):
        img = re.search(
            rf'<a class="reference internal image-reference" href="([^"]+)"><img [^>]*src="([^"]+/{view}\d*\.svg)"',
            views,
        )
        assert img and img.group(1) == img.group(2), view
        assert re.search(rf'href="[^"]+/{view}\.png"', views), view
    # Every limitation's diagram is still there, folded under its fields, linked to the full-size SVG.
    limitations = section_html(page, "architecture-limitations")
    folds = re.findall(r'<details class="hamodel-finding-diagram">(.*?)</details>', limitations, re.S)
    svgs = set(re.findall(r'src="[^"]*/(finding-[^"/]+\.svg)"', limitations))
    assert len(folds) == len(svgs) == 3, (len(folds), svgs)
    for fold in folds:
        assert "<summary>Diagram: the state after the failure</summary>" in fold and "<figure" in fold
        assert re.search(r'href="[^"]+/finding-[^"]+\.svg"><img', fold) and re.search(r'href="[^"]+\.png"', fold)
    for name in ("spof-cinder-volume", "partial-outage-neutron-lbaas-agent", "split-brain-haproxy"):
        assert any(name in s for s in svgs), name
    # Failure scenarios: failures with the same outcome share a row; every failure is still listed, once.
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section_html(page, "failure-scenarios"), re.S)
    cells = [[re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]
    cells = [c for c in cells if c]
    failures = [f.strip() for c in cells for f in c[0].split(",")]
    expected = [
        f"{k} {n}"
        for k, names in (
            ("node", ("ctl-1", "ctl-2", "ctl-3")),
            ("rack", ("r1", "r2", "r3")),
            ("switch", ("sw-1", "sw-2", "sw-3")),
        )
        for n in names
    ]
    assert sorted(failures) == sorted(expected), failures
    assert len({tuple(c[1:]) for c in cells}) == len(cells) == 2, cells
    by_failure = {f.strip(): c[1:] for c in cells for f in c[0].split(",")}
    assert by_failure["node ctl-1"][0] == "cinder-volume" and by_failure["switch sw-1"][0] == "cinder-volume"
    assert by_failure["rack r2"][0] == "—" and by_failure["rack r2"][3] == "cinder-volume"
    assert all(c[1] == "neutron-lbaas-agent" for c in by_failure.values())
    assert "finding-split-brain-haproxy" in html
