"""Architecture(docs_url=...): the alerts' runbook_url is absolute under
the published document folder (issue 25); promtool still accepts the rules
and their tests; unset, the URLs stay relative (byte-identical)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from hamodel.generators.monitoring import render
from test_configs import reference

from hamodel.errors import ModelError
from hamodel.pipeline import resolve
from hamodel.validate import promtool_checks

BASE = "https://docs.example.org/sites/openstack"


def _urls(files) -> list[str]:
    return [
        r["annotations"]["runbook_url"]
        for rel, data in sorted(files.items())
        if rel.startswith("monitoring/rules/")
        for r in yaml.safe_load(data)["groups"][0]["rules"]
        if "runbook_url" in r.get("annotations", {})
    ]


@pytest.fixture(scope="module")
def both():
    dep = reference("openstack_keepalived")
    arch = dep.architecture.replace(docs_url=BASE + "/")
    return render(dep), render(resolve(arch, lock="models/openstack_keepalived.lock.json"))


def test_runbook_urls_are_absolute_under_docs_url(both):
    plain, absolute = both
    rel, ab = _urls(plain), _urls(absolute)
    assert rel and all(not u.startswith("http") for u in rel)
    assert ab == [f"{BASE}/{u}" for u in rel]  # one slash, whatever the model's URL ends with
    assert f"{BASE}/runbooks.html#galera-graceful-full-stop" in ab


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus) not installed")
def test_promtool_accepts_absolute_urls(both):
    results = promtool_checks(both[1])
    assert results and all(r.ok for r in results), [(r.command, r.output) for r in results if not r.ok]


@pytest.mark.parametrize("bad", ["docs.example.org/x", "ftp://x/y", "https://x/a b", 'https://x/"><script>'])
def test_a_bad_docs_url_is_refused_naming_the_field(bad):
    arch = reference("openstack_keepalived").architecture
    with pytest.raises(ModelError) as e:
        arch.replace(docs_url=bad)
    assert "docs_url" in str(e.value)
