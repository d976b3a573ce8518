"""Authoring models: deriving variants with ``replace`` (fresh, validated,
with fresh lookup caches), and what an architect's editor sees (pyright
over the models and the README example; signatures that match the fields)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hamodel.model as model_pkg
from hamodel import ModelError, Network, Node, PacemakerCluster, Rack, Service, Switch
from hamodel.loader import load
from hamodel.model.base import HaBase
from hamodel.strategies import ActivePassive, AppCluster, BehindVip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def keepalived(reference_arch):
    return reference_arch("openstack_keepalived")


# -- replace: one validated way to derive a variant ---------------------------


def test_model_copy_does_not_leave_a_stale_lookup_cache(keepalived):
    """The bug of issue 18: the lookup cache of the original answered for the copy."""
    assert keepalived.service("keystone").replicas == "all"  # fills the cache
    services = [s.model_copy(update={"replicas": 2}) if s.name == "keystone" else s for s in keepalived.services]
    copy = keepalived.model_copy(update={"services": services})
    assert copy.service("keystone").replicas == 2
    assert copy.service("keystone") is next(s for s in copy.services if s.name == "keystone")
    assert keepalived.service("keystone").replicas == "all"


def test_replace_returns_a_validated_variant_with_fresh_caches(keepalived):
    assert keepalived.service("cinder-volume").replicas == 1
    variant = keepalived.replace_services(
        {"cinder-volume": {"replicas": "all", "strategy": ActivePassive(manager="pacemaker")}},
        pacemaker=PacemakerCluster(on=["controller"]),
    )
    assert variant.service("cinder-volume").replicas == "all"
    assert variant.service("cinder-volume").strategy.manager == "pacemaker"
    assert variant.pacemaker is not None
    # The original is untouched and still answers from its own fields.
    assert keepalived.service("cinder-volume").replicas == 1 and keepalived.pacemaker is None
    # Everything not named keeps its value.
    assert variant.service("galera") == keepalived.service("galera")
    assert [s.name for s in variant.services] == [s.name for s in keepalived.services]


def test_replace_validates_the_variant(keepalived):
    # Pacemaker as manager without a cluster: the architecture's own rule.
    with pytest.raises(ModelError, match=r"services\[cinder-volume\]\.strategy: managed by Pacemaker"):
        keepalived.replace_service("cinder-volume", strategy=ActivePassive(manager="pacemaker"))
    # A misspelt field names the object and the field.
    with pytest.raises(ModelError, match=r"Service\[keystone\]\.replica: Extra inputs are not permitted"):
        keepalived.replace_service("keystone", replica=2)
    with pytest.raises(ModelError, match=r"services\[keystone-api\]: no such service"):
        keepalived.replace_service("keystone-api", replicas=2)
    # Service rules run on the changed service.
    with pytest.raises(ModelError, match=r"Service\[cinder-volume\]: replicas: an unmanaged active/passive"):
        keepalived.service("cinder-volume").replace(replicas=2)
    # Field values are validated, not taken as they are (model_copy would).
    with pytest.raises(ModelError, match=r"Network\[mgmt\]\.subnet"):
        keepalived.network("mgmt").replace(subnet="10.0.0.1/8")


def test_replace_recomputes_derived_values():
    svc = Service("api", on="controller", strategy=BehindVip("vip", port=80))
    assert svc.replace(name="api2").process == "api2"
    explicit = Service("db", process="mariadb", on="controller", strategy=AppCluster())
    assert explicit.replace(name="db2").process == "mariadb"


def test_replaced_nodes_still_declare_their_domain_objects():
    """Rack("r1") given as an object is declared by the Architecture; a
    variant of the node that still refers to it keeps declaring it."""
    from hamodel import Architecture

    sw = Switch("sw-1")
    net = Network("lan", subnet="10.0.0.0/24", switches=[sw])
    nodes = [
        Node(f"n{i}", roles={"c"}, domains=[Rack(f"r{i}")], addresses={net: f"10.0.0.{i}"}, switch=sw) for i in (1, 2)
    ]
    moved = [n.replace(roles=["c", "d"]) for n in nodes]
    arch = Architecture("a", nodes=moved, networks=[net.replace(reserved_vrids=[7])])
    assert sorted(d.name for d in arch.domains) == ["r1", "r2", "sw-1"]
    # A domain the variant no longer refers to is not declared.
    arch2 = Architecture("a", nodes=[nodes[0].replace(domains=[]), nodes[1]], networks=[net])
    assert sorted(d.name for d in arch2.domains) == ["r2", "sw-1"]


def test_pacemaker_model_is_the_keepalived_model_plus_its_differences(keepalived):
    pacemaker = load(ROOT / "models" / "openstack_pacemaker.py")
    changed = {s.name for s in pacemaker.services if s != keepalived.service(s.name)}
    assert changed == {"haproxy", "galera", "rabbitmq", "redis", "cinder-volume"}
    assert pacemaker.service("haproxy").strategy.kind == "pacemaker_vip"
    assert pacemaker.service("galera").strategy.access == keepalived.service("galera").strategy.access


# -- what the editor sees ----------------------------------------------------


def _stub_params(cls: type) -> tuple[list[str], dict[str, bool]] | None:
    """Positional parameter names and ``{keyword: has_default}`` of the
    ``__init__`` a type checker sees (the one under ``if TYPE_CHECKING``)."""
    tree = ast.parse(inspect.getsource(cls))
    (klass,) = tree.body
    for stmt in klass.body:  # type: ignore[attr-defined]
        if isinstance(stmt, ast.If) and ast.unparse(stmt.test) == "TYPE_CHECKING":
            for fn in stmt.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
                    a = fn.args
                    positional = [p.arg for p in a.posonlyargs + a.args][1:]  # drop self
                    defaults = [d is not None for d in a.kw_defaults]
                    return positional, {p.arg: d for p, d in zip(a.kwonlyargs, defaults)}
    return None


# Keywords that are shorthands, not fields: they must be in the signature too.
# Policy: its durations are written as strings ("10s") that pydantic's own signature (float) would refuse.
SHORTHANDS = {"Node": {"addresses", "switch", "bond_mode"}, "BehindVip": {"port"}, "Policy": set()}
MODEL_CLASSES = [
    getattr(model_pkg, n)
    for n in model_pkg.__all__
    if isinstance(getattr(model_pkg, n), type) and issubclass(getattr(model_pkg, n), HaBase)
]


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_type_checking_signature_matches_the_fields(cls):
    """Every class that takes positional arguments or shorthands declares
    the signature an editor sees; it lists exactly the fields (plus the
    shorthands), positional ones first, and a default where pydantic has one."""
    stub = _stub_params(cls)
    if not cls._positional and cls.__name__ not in SHORTHANDS:
        assert stub is None, f"{cls.__name__}: a signature is declared but pydantic's own would do"
        return
    assert stub is not None, f"{cls.__name__} takes positional arguments but declares no TYPE_CHECKING __init__"
    positional, keywords = stub
    assert tuple(positional) == cls._positional
    # ``kind`` is the strategies' fixed discriminator, not something to write.
    fields = {k: v for k, v in cls.model_fields.items() if k != "kind" or v.is_required()}
    shorthands = SHORTHANDS.get(cls.__name__, set())
    assert set(positional) | set(keywords) == set(fields) | shorthands
    for name, has_default in keywords.items():
        if name in fields:
            required = fields[name].is_required() and not (shorthands and name in {"ports", "interfaces"})
            assert has_default == (not required), f"{cls.__name__}.{name}: default differs from the field's"


def _pyright() -> list[str]:
    exe = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if exe is None:
        pytest.fail("pyright is not installed: it is in the test extra (pip install -e '.[test]')")
    return [exe, "--outputjson", "--pythonpath", sys.executable]


def _run_pyright(paths: list[Path], cwd: Path) -> list[dict]:
    # pyright exits 1 when it reports errors; the JSON says which.
    out = subprocess.run(_pyright() + [str(p) for p in paths], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert out.returncode in (0, 1), out.stderr + out.stdout
    report = json.loads(out.stdout)
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def _pyright_config(where: Path, *extra: str) -> None:
    # hamodel from this checkout: pyright cannot follow the import hook of a
    # setuptools editable install. The pacemaker model imports its sibling,
    # as the loader allows (extra "models").
    (where / "pyrightconfig.json").write_text(json.dumps({"extraPaths": [str(ROOT), *extra]}))


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no python example"
    return blocks[0]


@pytest.mark.slow
def test_models_and_readme_example_type_check(tmp_path):
    """What VS Code shows an architect: no error in the models or the README."""
    shutil.copytree(ROOT / "models", tmp_path / "models", ignore=shutil.ignore_patterns("*.json", "__pycache__"))
    (tmp_path / "readme_example.py").write_text(_readme_example())
    _pyright_config(tmp_path, "models")
    errors = _run_pyright([tmp_path / "models", tmp_path / "readme_example.py"], tmp_path)
    assert errors == [], "\n".join(
        f"{Path(e['file']).name}:{e['range']['start']['line'] + 1}: {e['message']}" for e in errors
    )


@pytest.mark.slow
def test_editor_flags_a_misspelt_keyword_and_a_wrong_type(tmp_path):
    example = _readme_example()
    bad = example.replace('Service("keystone", on="controller"', 'Service("keystone", onn="controller"').replace(
        'Network("mgmt", subnet=', 'Network("mgmt", subnett='
    )
    assert bad.count("onn=") == 1 and bad.count("subnett=") == 1
    bad += 'Vrrp(vip, advert_int="1")\nVirtualIP("x", "192.168.1.9", network=mgmt, exposure="private")\n'
    (tmp_path / "bad.py").write_text(bad)
    _pyright_config(tmp_path)
    errors = _run_pyright([tmp_path / "bad.py"], tmp_path)
    lines = {e["range"]["start"]["line"] + 1: e["message"] for e in errors}
    src = bad.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, line in enumerate(src, 1) if fragment in line)

    assert 'No parameter named "onn"' in lines.get(line_of("onn="), "")
    assert 'No parameter named "subnett"' in lines.get(line_of("subnett="), "")
    assert "advert_int" in lines.get(line_of('advert_int="1"'), "")
    assert "exposure" in lines.get(line_of('exposure="private"'), "")
    assert len(errors) >= 4


# -- readable output at 80 columns ----------------------------------------------


def _hamodel(*args: str, columns: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "hamodel.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )


def test_check_reads_well_at_80_columns():
    """Each finding is a block: severity and id on one line, then the title
    and its labelled text wrapped at word boundaries (the 5-column table
    folded words into 8-character fragments: 451 lines)."""
    model = str(ROOT / "models" / "openstack_keepalived.py")
    findings = json.loads(_hamodel("check", model, "--json", columns=80).stdout)["findings"]
    r = _hamodel("check", model, columns=80)
    assert r.returncode == 1, r.stderr  # the five known limitations fail the default gate
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) < 180
    section = lines[next(i for i, line in enumerate(lines) if "findings (k=2)" in line) + 1 :]
    text = "\n".join(section)
    for f in findings:
        assert any(line.split()[:2] == [f["severity"].upper(), f["id"]] for line in section if line.strip()), f["id"]
    # No word was cut: every word printed is a word of a finding (or a label).
    words = {"scenario", "impact", "mitigation", "open", "+", "-", "finding(s),", "accepted;"}
    for f in findings:
        for part in (f["title"], f["impact"], f["mitigation"], " ".join(f["scenario"]), f["id"], f["severity"].upper()):
            words.update(part.split())
    verdict = section[-1]
    unknown = sorted({w for line in section[:-1] for w in line.split()} - words)
    assert unknown == [], unknown
    assert "finding(s)" in verdict
    assert "│" not in text  # no table at this width


def test_check_uses_a_table_when_the_terminal_is_wide():
    r = _hamodel("check", str(ROOT / "models" / "openstack_keepalived.py"), columns=160)
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 160
    assert any("spof:cinder-volume" in line and "│" in line for line in lines)


# -- one option convention for every command -------------------------------------


def test_every_command_spells_its_json_output_the_same_way():
    """``--json`` is a flag that prints JSON on stdout, for every command
    that offers JSON; no visible option spells it differently."""
    import typer

    from hamodel.cli import app

    group = typer.main.get_command(app)  # typer's own click: duck-typed
    offering = set()
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        for param in cmd.params:
            if getattr(param, "param_type_name", "") != "option" or param.hidden:
                continue
            json_spellings = [o for o in param.opts if "json" in o]
            if json_spellings:
                assert json_spellings == ["--json"], (name, param.opts)
                assert param.is_flag, (name, param.opts)
                offering.add(name)
    assert {"check", "place", "drill"} <= offering
    # The old drill spelling still works, hidden and deprecated.
    drill = group.commands["drill"]  # type: ignore[attr-defined]
    old = [p for p in drill.params if "--json-out" in getattr(p, "opts", [])]
    assert old and old[0].hidden
