"""The failure explorer in real headless Chromium (through chromedriver, as
tests/integration/test_docs.py drives it): for each reference model, fail the
components of three cut sets taken from ``hamodel check --json`` by
clicking their buttons, and check that the page shows that finding's
services down and every service in the state the plain-Python semantics
gives; then restore them from the keyboard and check everything is up."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_docs import Browser, copy_docs, sphinx_build

REPO = Path(__file__).resolve().parents[2]
MODELS = ["openstack_keepalived", "openstack_pacemaker", "multirack", "webplatform"]

pytestmark = pytest.mark.slow


class ExplorerBrowser(Browser):
    def run(self, script: str) -> object:
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})["value"]

    def find(self, css: str) -> str:
        value = self._call("POST", f"/session/{self.session}/element", {"using": "css selector", "value": css})["value"]
        return next(iter(value.values()))

    def into_view(self, css: str) -> None:
        # The theme scrolls smoothly: WebDriver's own scroll would click before the page got there.
        self._call(
            "POST",
            f"/session/{self.session}/execute/sync",
            {
                "script": "document.querySelector(arguments[0]).scrollIntoView({block: 'center', behavior: 'instant'});",
                "args": [css],
            },
        )

    def click(self, css: str) -> None:
        element = self.find(css)
        self.into_view(css)
        self._call("POST", f"/session/{self.session}/element/{element}/click", {})

    def press_enter(self, css: str) -> None:
        """Focus the element and press Enter (keyboard access, no mouse)."""
        element = self.find(css)
        self.into_view(css)
        self._call("POST", f"/session/{self.session}/element/{element}/value", {"text": "\ue007"})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot")["value"])


STATES = """
const out = {};
document.querySelectorAll('#hamodel-explorer tr[data-service]').forEach(tr => {
  out[tr.dataset.service] = [tr.dataset.state, tr.dataset.split === 'yes'];
});
return out;
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("explorer-docs")
    out = work / "html"
    proc = sphinx_build(copy_docs(work), out)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def check_json(model: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "hamodel.cli", "check", f"models/{model}.py", "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def three_cut_sets(report: dict) -> list[tuple[str, tuple[str, ...]]]:
    """Three different cut sets of the check's findings, for three different services where possible:
    a largest one, a smallest one, then the next in order."""
    found = sorted(
        {
            (f["services"][0], tuple(cs))
            for f in report["findings"]
            if f["services"]
            for cs in f["details"].get("cut_sets") or []
        },
        key=lambda x: (-len(x[1]), x),
    )
    order = found[:1] + found[-1:][::-1] + found[1:-1]
    picked: list[tuple[str, tuple[str, ...]]] = []
    for distinct_service in (True, False):
        for service, cs in order:
            if len(picked) < 3 and all(cs != c and (not distinct_service or service != s) for s, c in picked):
                picked.append((service, cs))
    return picked


def wait_ready(browser: ExplorerBrowser) -> None:
    deadline = time.monotonic() + 30
    while browser.run("const r = document.getElementById('hamodel-explorer'); return r && r.dataset.ready;") != "yes":
        assert time.monotonic() < deadline, "the explorer did not start"
        time.sleep(0.1)


PRESSED = (
    "return Array.from(document.querySelectorAll('button.hx-comp[aria-pressed=\"true\"]'))"
    ".map(b => b.dataset.component);"
)


def settle(browser: ExplorerBrowser, failed: set[str]) -> dict:
    """The services' states once the page shows exactly ``failed`` pressed (a WebDriver click returns
    when the input is dispatched, not always after the page's handler ran)."""
    deadline = time.monotonic() + 10
    while set(browser.run(PRESSED)) != failed:
        assert time.monotonic() < deadline, (sorted(failed), browser.run(PRESSED))
        time.sleep(0.05)
    return browser.run(STATES)


def css_button(cid: str) -> str:
    return f"button.hx-comp[data-component={json.dumps(cid)}]"


def test_explorer_shows_what_the_check_proves(site: Path, tmp_path: Path, resolved) -> None:
    from hamodel.analysis.semantics import Evaluation

    browser = ExplorerBrowser(tmp_path / "profile")
    seen_split: set[str] = set()
    try:
        for model in MODELS:
            report = check_json(model)
            cuts = three_cut_sets(report)
            assert len(cuts) == 3, (model, cuts)
            dep = resolved(model)
            view = dep.results.view
            browser.open((site / "generated" / model / "explorer.html").as_uri())
            wait_ready(browser)
            states = browser.run(STATES)
            assert set(states) == set(view.services)
            assert {s for s, (st, sb) in states.items() if st != "up" or sb} == set(), (model, states)
            for service, cs in cuts:
                for c in cs:
                    browser.click(css_button(c))
                states = settle(browser, set(cs))
                assert states[service][0] in ("down", "partial"), (model, service, cs, states[service])
                truth = Evaluation(view, set(cs))
                want = {s: [truth.state(s), truth.split_brain(s)] for s in view.services}
                shown_split = {s for s, (_, sb) in states.items() if sb}
                drawn = set(
                    browser.run(
                        "return JSON.parse(document.getElementById('hamodel-explorer-data')"
                        ".textContent).services.filter(s => s.split !== null).map(s => s.name);"
                    )
                )
                assert {s: st for s, (st, _) in states.items()} == {s: st for s, (st, _) in want.items()}, (model, cs)
                # Split brain is drawn for the groups whose rule the JSON carries (the page names the others).
                assert shown_split == {s for s, (_, sb) in want.items() if sb and s in drawn}, (model, cs)
                seen_split.update(shown_split)
                panel = browser.run("return document.getElementById('hx-panel').textContent;")
                assert service in panel
                shot = os.environ.get("HAMODEL_EXPLORER_SCREENSHOT")  # the guide's figure: the first pair of racks
                if shot and model == "openstack_keepalived" and cs == ("domain:r1", "domain:r2"):
                    Path(shot).write_bytes(browser.screenshot())
                for c in cs:  # restored from the keyboard
                    browser.press_enter(css_button(c))
                states = settle(browser, set())
                assert all(st == "up" and not sb for st, sb in states.values()), (model, cs, states)
            for f in report["findings"]:  # the split brains the check proves, shown as such
                if f["kind"] == "split-brain" and f["scenario"]:
                    for c in f["scenario"]:
                        browser.click(css_button(c))
                    states = settle(browser, set(f["scenario"]))
                    truth = Evaluation(view, set(f["scenario"]))
                    split = {s for s in f["services"] if truth.split_brain(s)}
                    assert split and split <= drawn, (model, f["id"])
                    assert {s for s, (_, sb) in states.items() if sb} == split, (model, f["id"], states)
                    seen_split.update(split)
                    browser.click("#hx-restore")
                    assert all(st == "up" and not sb for st, sb in settle(browser, set()).values())
        assert "haproxy" in seen_split  # at least one split brain was shown
    finally:
        browser.close()


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        self.ids.update(v for k, v in attrs if k == "id" and v)


def test_finding_links_point_at_their_sections(site: Path) -> None:
    for model in MODELS:
        folder = site / "generated" / model
        page = (folder / "explorer.html").read_text(encoding="utf-8")
        raw = page.split('id="hamodel-explorer-data">', 1)[1].split("</script>", 1)[0]
        data = json.loads(raw)
        ids = _Ids()
        ids.feed((folder / "index.html").read_text(encoding="utf-8"))
        assert data["findings"], model
        for f in data["findings"]:
            doc, _, anchor = f["link"].partition("#")
            assert doc == "index.html" and anchor in ids.ids, (model, f["id"], f["link"])
        assert 'href="explorer.html"' in (folder / "index.html").read_text(encoding="utf-8")
        # Offline: the page's scripts and style sheets are the site's own files.
        assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', page), model


HOSTILE_MODEL = """
from hamodel import Architecture, Network, Node, Rack, Service, VirtualIP
from hamodel.strategies import AppCluster, BehindVip, Vrrp

NAME = "</script><script>window.pwned=1</script> <img src=x onerror=window.pwned=2> **b** `c` &amp; \\\\u003c"
lan = Network("lan", subnet="10.0.0.0/24")
vip = VirtualIP("vip", "10.0.0.100", network=lan)
nodes = [Node(f"n{i}", roles={"lb"}, domains=[Rack(f"r{i}")], addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2, 3)]
architecture = Architecture(NAME, description=NAME, networks=[lan], vips=[vip], nodes=nodes, services=[
    Service("haproxy", on="lb", strategy=Vrrp(vip, track="haproxy")),
    Service("db", on="lb", strategy=AppCluster(access=BehindVip(vip, port=3306, single_writer=True))),
])
"""


def test_hostile_model_name_stays_text(tmp_path: Path) -> None:
    """The architecture's free-text name (HTML, script, Markdown) is shown as text on the explorer page and
    runs nothing; the page still works."""
    from test_docs import _project

    docs = _project(tmp_path, {"hostile": HOSTILE_MODEL}, "Test\n====\n\n.. toctree::\n\n   generated/index\n")
    proc = sphinx_build(docs, tmp_path / "html")
    assert proc.returncode == 0, proc.stderr
    browser = ExplorerBrowser(tmp_path / "profile")
    try:
        browser.open((tmp_path / "html" / "generated" / "hostile" / "explorer.html").as_uri())
        wait_ready(browser)
        assert browser.run("return [String(window.pwned), document.querySelectorAll('img').length];") == [
            "undefined",
            0,
        ]
        title = browser.run("return document.querySelector('h1').textContent;")
        assert "</script><script>window.pwned=1</script>" in title and "<img src=x" in title
        browser.click(css_button("node:n1"))
        assert settle(browser, {"node:n1"})["db"][0] == "degraded"
    finally:
        browser.close()
