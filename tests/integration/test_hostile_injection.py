"""Hostile input, injection: model text never becomes code or markup.

- The Ansible inventory: every string is inert to Ansible's Jinja2
  templating (``!unsafe``), proven with real ansible-core running a
  playbook (connection ``local``) against the inventory of a hostile model:
  the payload would ``touch`` a marker file, which must not exist, and the
  values come back literally; the variables hamodel templates on purpose
  (``hamodel_root``, each file's ``src``) still resolve, and copy the files.
- IPv6 scope ids (any text after ``%``) are refused in every address field
  of the model, and the config generators' re-parse refuses them too.
- A VIP on its subnet's network or broadcast address is refused.
- The Sphinx documents: a hostile model's description, acknowledgement
  reasons, recovery procedure and shard text are built by the real Sphinx
  (``-W``); the HTML shows the text literally, publishes no file
  (``literalinclude``/``include`` of /etc/passwd) and no script.
- The drill report page and the diagrams' titles treat model text the same way.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import docutils.core
import docutils.nodes
import docutils.utils
import pytest
from hamodel.generators.configs import ConfigError, build_configs
from hamodel.generators.docs.rst import rst_escape, rst_plain
from test_docs import sphinx_build

from hamodel.errors import ModelError
from hamodel.model import Acknowledgement, Architecture, Network, Node, Rack, Service, VirtualIP
from hamodel.pipeline import resolve
from hamodel.strategies import AppCluster, BehindVip, Sharded, Vrrp

ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook") or str(Path(sys.executable).parent / "ansible-playbook")
ANSIBLE_INVENTORY = shutil.which("ansible-inventory") or str(Path(sys.executable).parent / "ansible-inventory")
needs_ansible = pytest.mark.skipif(not Path(ANSIBLE_PLAYBOOK).exists(), reason="ansible-core is not installed")

MARKER = "hamodel-pwned"


def payload(tag: str) -> str:
    """Jinja2 that would create ``<cwd>/hamodel-pwned-<tag>`` on the Ansible controller."""
    return "{{ lookup('pipe', 'touch " + MARKER + "-" + tag + "') }}"


# Free text of every kind the model has. Where model text starts a line of
# the document (the description's paragraph, a field body, a table cell), a
# directive would run: the description and the reason would publish
# /etc/passwd. The recovery procedure carries every other construct.
UP = "../" * 24
DESCRIPTION = f".. literalinclude:: {UP}etc/passwd"
REASON = f".. include:: {UP}etc/passwd"
RECOVERY = """|subst| :raw:`<b>x</b>` `t <javascript:alert(1)>`_ [#]_ [1]_ _`inline target` x__ *em* **strong**

.. raw:: html

   <script>alert('recovery')</script>

.. _target: http://example.invalid/
.. [1] a footnote
.. |subst| replace:: substituted

Section
=======

+---+---+
| a | b |
+---+---+

* bullet
#. enumerated
>>> doctest
-- dashes ... "double" 'single' {{ x }} $HOME %s #x
"""
SHARD = ":file:`/etc/passwd` |x| `y`_ [2]_ javascript:alert(2) its shard"
NAME = f"{payload('name')} .. raw:: html <script>alert('name')</script> \\G\\N :x: |y|"


def hostile_arch(
    *,
    name: str = NAME,
    description: str = DESCRIPTION,
    reason: str = REASON,
    recovery: str = RECOVERY,
    shard: str = SHARD,
    group: str | None = None,
) -> Architecture:
    """Three load balancers: haproxy on a VRRP VIP, an API, a Galera-like
    cluster and a sharded agent, with two acknowledgements (a limitation and
    a low finding), so every free-text field reaches the document."""
    lan = Network("lan", subnet="10.0.0.0/24")
    vip = VirtualIP("vip", "10.0.0.100", network=lan)
    nodes = [
        Node(f"n{i}", roles={"lb"}, domains=[Rack(f"r{i}")], addresses={lan: f"10.0.0.{10 + i}"}) for i in (1, 2, 3)
    ]
    return Architecture(
        name,
        description=description,
        networks=[lan],
        vips=[vip],
        nodes=nodes,
        services=[
            Service("haproxy", on="lb", ports=[9300], strategy=Vrrp(vip, track="haproxy")),
            Service("api", on="lb", group=group, strategy=BehindVip(vip, port=8080)),
            Service(
                "db",
                on="lb",
                strategy=AppCluster(recovery=recovery, access=BehindVip(vip, port=3306, single_writer=True)),
            ),
            Service("agent", on="lb", strategy=Sharded(shard=shard)),
        ],
        acknowledgements=[Acknowledgement("manual-recovery", reason), Acknowledgement("quorum-loss:db", reason)],
    )


HOSTILE_MODEL_FILE = """
from hamodel import Acknowledgement, Architecture, Network, Node, Rack, Service, VirtualIP
from hamodel.strategies import AppCluster, BehindVip, Sharded, Vrrp

lan = Network("lan", subnet="10.0.0.0/24")
vip = VirtualIP("vip", "10.0.0.100", network=lan)
architecture = Architecture(
    NAME, description=DESCRIPTION, networks=[lan], vips=[vip],
    nodes=[Node(f"n{i}", roles={"lb"}, domains=[Rack(f"r{i}")], addresses={lan: f"10.0.0.{10 + i}"})
           for i in (1, 2, 3)],
    services=[
        Service("haproxy", on="lb", ports=[9300], strategy=Vrrp(vip, track="haproxy")),
        Service("api", on="lb", strategy=BehindVip(vip, port=8080)),
        Service("db", on="lb", strategy=AppCluster(recovery=RECOVERY, access=BehindVip(vip, port=3306, single_writer=True))),
        Service("agent", on="lb", strategy=Sharded(shard=SHARD)),
    ],
    acknowledgements=[Acknowledgement("manual-recovery", REASON), Acknowledgement("quorum-loss:db", REASON)],
)
"""


def hostile_model_source() -> str:
    constants = "".join(
        f"{k} = {v!r}\n"
        for k, v in {
            "NAME": NAME,
            "DESCRIPTION": DESCRIPTION,
            "REASON": REASON,
            "RECOVERY": RECOVERY,
            "SHARD": SHARD,
        }.items()
    )
    return constants + HOSTILE_MODEL_FILE


# -- real ansible-core ------------------------------------------------------------------


def ansible_env(tmp: Path) -> dict[str, str]:
    """Ansible confined to ``tmp``: its home, temp dirs and config; no
    network (connection local), no interpreter discovery, no colour."""
    for d in ("home", "ansible-home", "local-tmp", "remote-tmp"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    cfg = tmp / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "HOME": str(tmp / "home"),
            "ANSIBLE_HOME": str(tmp / "ansible-home"),
            "ANSIBLE_CONFIG": str(cfg),
            "ANSIBLE_LOCAL_TEMP": str(tmp / "local-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(tmp / "remote-tmp"),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_GATHERING": "explicit",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
            "ANSIBLE_GALAXY_SERVER": "http://127.0.0.1:9/",
        }
    )
    return env


# Every variable hamodel writes, and what a deploy does with them: template
# them into a file (as any playbook would), copy each host's files from src.
PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: every hamodel variable, through Jinja2
      copy:
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        content: "{{ {'model': hamodel_model, 'model_sha256': hamodel_model_sha256, 'host': hamodel_address,
                      'root': hamodel_root, 'manifest': hamodel_manifest, 'files': hamodel_files} | to_json }}"
    - name: their directories
      file:
        path: "{{ out_dir }}/deployed/{{ inventory_hostname }}{{ item.dest | dirname }}"
        state: directory
      loop: "{{ hamodel_files }}"
    - name: deploy the generated files
      copy:
        src: "{{ item.src }}"
        dest: "{{ out_dir }}/deployed/{{ inventory_hostname }}{{ item.dest }}"
        mode: "{{ item.mode }}"
      loop: "{{ hamodel_files }}"
"""


def run_playbook(tmp: Path, inventory: Path, limit: str) -> subprocess.CompletedProcess:
    (tmp / "pb.yml").write_text(PLAYBOOK)
    (tmp / "out").mkdir(exist_ok=True)
    # This playbook is not the shipped OUT/ansible/deploy.yml, so hamodel_root
    # (default: {{ playbook_dir }}/..) is given, as the guide tells operators.
    return subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            str(inventory),
            "-c",
            "local",
            "-l",
            limit,
            "-e",
            json.dumps({"out_dir": str(tmp / "out"), "hamodel_root": str(inventory.parent.parent)}),
            str(tmp / "pb.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        env=ansible_env(tmp),
    )


def ansible_inventory_list(tmp: Path, inventory: Path) -> dict:
    proc = subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(inventory), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
        env=ansible_env(tmp),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def unwrap(value):
    """``ansible-inventory --list`` shows an ``!unsafe`` value as ``{"__ansible_unsafe": text}``."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def write_tree(root: Path, files) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def markers(where: Path) -> list[str]:
    return sorted(p.name for p in where.rglob(f"{MARKER}*"))


@needs_ansible
def test_inventory_of_a_hostile_model_is_inert_to_real_ansible(tmp_path: Path) -> None:
    arch = hostile_arch()
    dep = resolve(arch, analyse=False)
    out = tmp_path / "build"
    write_tree(out, build_configs(dep))
    inventory = out / "ansible" / "inventory.yml"
    proc = run_playbook(tmp_path, inventory, "n1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The payload never ran: no marker anywhere Ansible could have written it.
    assert markers(tmp_path) == [], proc.stdout
    seen = json.loads((tmp_path / "out" / "n1.json").read_text())
    assert seen["model"] == NAME  # literally, through Jinja2
    assert seen["host"] == "10.0.0.11"
    # The variables hamodel templates on purpose still resolve.
    root = os.path.normpath(seen["root"])
    assert root == str(out), seen["root"]
    assert os.path.normpath(seen["manifest"]) == str(out / "manifest.json")
    assert {os.path.normpath(f["src"]) for f in seen["files"]} == {str(out / f["path"]) for f in seen["files"]}
    # ... and the playbook deployed every file of the host from its src.
    for f in seen["files"]:
        deployed = tmp_path / "out" / "deployed" / "n1" / f["dest"].lstrip("/")
        assert deployed.read_bytes() == (out / f["path"]).read_bytes()
    # ansible-inventory shows the literal text too.
    listed = unwrap(ansible_inventory_list(tmp_path, inventory))
    assert listed["_meta"]["hostvars"]["n1"]["hamodel_model"] == NAME
    assert markers(tmp_path) == []


@needs_ansible
def test_inventory_host_address_is_inert_even_past_the_model(tmp_path: Path) -> None:
    """Defence in depth: an address with a scope id that bypassed the model
    (``model_construct`` skips validation) reaches ``ansible_host`` only as text."""
    from hamodel.generators.configs import NodeFile
    from hamodel.generators.manifest import render_manifest

    dep = resolve(hostile_arch(name="plain"), analyse=False)
    evil = ipaddress.IPv6Address("fd00::11%" + payload("host"))
    pdep = poison_address(dep, node="n1", address=evil)
    data = b"global\n"
    files = [
        NodeFile(
            node="n1",
            kind="haproxy",
            path="nodes/n1/haproxy/haproxy.cfg",
            dest="/etc/haproxy/haproxy.cfg",
            services=("api",),
            vips=("vip",),
            data=data,
            redacted=data,
            secret=False,
        )
    ]
    out = tmp_path / "build"
    write_tree(out, {"nodes/n1/haproxy/haproxy.cfg": data, **render_manifest(pdep, files)})
    proc = run_playbook(tmp_path, out / "ansible" / "inventory.yml", "n1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert markers(tmp_path) == [], proc.stdout
    seen = json.loads((tmp_path / "out" / "n1.json").read_text())
    assert seen["host"] == str(evil)


def poison_address(dep, *, node: str | None = None, vip: str | None = None, address):
    """``dep`` with one node's first address or one VIP's address replaced,
    bypassing validation (as ``model_construct`` in a model file would)."""
    from hamodel.deployment import Deployment

    arch = dep.architecture
    update = {}
    if node is not None:
        n = arch.node(node)
        iface = type(n.interfaces[0]).model_construct(**{**n.interfaces[0].__dict__, "address": address})
        bad = type(n).model_construct(**{**n.__dict__, "interfaces": [iface, *n.interfaces[1:]]})
        update["nodes"] = [bad if x.name == node else x for x in arch.nodes]
    if vip is not None:
        v = arch.vip(vip)
        bad = type(v).model_construct(**{**v.__dict__, "address": address})
        update["vips"] = [bad if x.name == vip else x for x in arch.vips]
    poisoned = arch.model_copy(update=update)
    poisoned.__dict__.pop("_ha_index", None)  # lookup cache of the unpoisoned copy
    return Deployment(
        architecture=poisoned,
        placement=dep.placement,
        vrrp_groups=dep.vrrp_groups,
        nonlocal_bind_nodes=dep.nonlocal_bind_nodes,
        findings=(),
        notes=(),
    )


def test_inventory_writes_every_model_string_unsafe() -> None:
    """Every string value in the inventory is ``!unsafe`` except the three
    variables hamodel templates on purpose (and strings YAML would read as
    another type, which hold no template delimiter)."""
    import yaml

    dep = resolve(hostile_arch(), analyse=False)
    text = build_configs(dep)["ansible/inventory.yml"].decode()
    assert "!unsafe" in text
    templated = [line.strip() for line in text.splitlines() if "{{" in line and "!unsafe" not in line]
    assert templated and all(
        re.fullmatch(
            r"(src|hamodel_root|hamodel_manifest): '\{\{ (hamodel_root|playbook_dir) "
            r"\}\}/[A-Za-z0-9_./-]*'",
            t,
        )
        for t in templated
    ), templated

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: ("UNSAFE", loader.construct_scalar(node)))
    data = yaml.load(text, Loader=Loader)
    assert data["all"]["vars"]["hamodel_model"] == ("UNSAFE", NAME)


# -- IPv6 scope ids and special addresses -------------------------------------------------

SCOPED = "fd00::11%{{ lookup('pipe', 'id') }}$HOME"


def _v6_arch(*, node_addr: str = "fd00::11", vip_addr: str = "fd00::100", subnet: str = "fd00::/64") -> Architecture:
    lan = Network("lan", subnet=subnet)
    return Architecture(
        "v6",
        networks=[lan],
        vips=[VirtualIP("vip", vip_addr, network=lan)],
        nodes=[
            Node("n1", roles={"lb"}, addresses={lan: node_addr}),
            Node("n2", roles={"lb"}, addresses={lan: "fd00::12"}),
        ],
        services=[Service("haproxy", on="lb", strategy=Vrrp("vip"))],
    )


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"node_addr": SCOPED}, "Node[n1].interfaces[0].address"),
        ({"vip_addr": "fd00::100%eth0"}, "VirtualIP[vip].address"),
        ({"subnet": "fd00::%eth0/64"}, "Network[lan].subnet"),
    ],
)
def test_scope_ids_are_refused_in_every_address_field(kwargs, where) -> None:
    with pytest.raises(ModelError) as exc:
        _v6_arch(**kwargs)
    assert where in str(exc.value) and "scope id" in str(exc.value)


def test_scope_ids_are_refused_in_json_models() -> None:
    data = json.loads(_v6_arch().to_json())
    data["vips"][0]["address"] = "fd00::100%$HOME"
    with pytest.raises(ModelError) as exc:
        Architecture.from_json(json.dumps(data))
    assert "vips[vip].address" in str(exc.value) and "scope id" in str(exc.value)


def test_config_generators_refuse_a_scope_id_that_bypassed_the_model() -> None:
    """Defence in depth: the generators re-parse every address; a scoped one
    (``model_construct`` skips validation) is a ConfigError, never a config."""
    dep = resolve(_v6_arch(), analyse=False)
    for pdep, where in (
        (poison_address(dep, vip="vip", address=ipaddress.IPv6Address("fd00::100%$HOME")), "vips[vip].address"),
        (
            poison_address(dep, node="n1", address=ipaddress.IPv6Address("fd00::11%$HOME")),
            "nodes[n1].interfaces[eth0].address",
        ),
    ):
        with pytest.raises(ConfigError) as exc:
            build_configs(pdep)
        assert where in str(exc.value) and "scope id" in str(exc.value)


@pytest.mark.parametrize(
    ("subnet", "vip", "node", "message"),
    [
        ("10.0.0.0/24", "10.0.0.0", "10.0.0.11", "vips[vip].address: 10.0.0.0 is the network address"),
        ("10.0.0.0/24", "10.0.0.255", "10.0.0.11", "vips[vip].address: 10.0.0.255 is the broadcast address"),
        ("fd00::/64", "fd00::", "fd00::11", "vips[vip].address: fd00:: is the subnet-router anycast (network) address"),
        (
            "10.0.0.0/24",
            "10.0.0.100",
            "10.0.0.0",
            "nodes[n1].interfaces[eth0].address: 10.0.0.0 is the subnet's network",
        ),
        ("10.0.0.0/24", "10.0.0.100", "10.0.0.255", "nodes[n1].interfaces[eth0].address: 10.0.0.255 is the subnet's"),
    ],
)
def test_special_subnet_addresses_are_refused(subnet, vip, node, message) -> None:
    second = str(ipaddress.ip_network(subnet)[12])
    lan = Network("lan", subnet=subnet)
    with pytest.raises(ModelError) as exc:
        Architecture(
            "a",
            networks=[lan],
            vips=[VirtualIP("vip", vip, network=lan)],
            nodes=[Node("n1", roles={"lb"}, addresses={lan: node}), Node("n2", roles={"lb"}, addresses={lan: second})],
            services=[Service("haproxy", on="lb", strategy=Vrrp("vip"))],
        )
    assert message in str(exc.value)


def test_point_to_point_and_ordinary_vips_are_accepted() -> None:
    """/31 has no network or broadcast address (RFC 3021); the last IPv6
    address of a subnet is an ordinary one."""
    lan = Network("lan", subnet="10.0.0.0/31")
    Architecture("p2p", networks=[lan], vips=[], nodes=[Node("n1", addresses={lan: "10.0.0.0"})])
    _v6_arch(vip_addr="fd00::ffff:ffff:ffff:ffff")


# -- reStructuredText: the escaping function on its own ----------------------------------------

RST_PAYLOADS = [
    ".. raw:: html",
    ".. literalinclude:: /etc/passwd",
    ".. include:: /etc/passwd",
    ".. _t: http://x",
    ".. [1] note",
    ".. |s| replace:: x",
    "..",
    "|s|",
    ":role:`x`",
    "`x`_",
    "`x <http://y>`_",
    "[1]_",
    "[#]_",
    "_`t`",
    "x__",
    "*e*",
    "**s**",
    "``l``",
    "====",
    "----",
    "+--+",
    "* x",
    "- x",
    "#. x",
    "1. x",
    "a) x",
    "(a) x",
    ">>> x",
    "| line",
    ":field: x",
    "-o opt",
    "x::",
    "\\",
    "\\`x`",
    "http://example.org",
    "a@b.org",
    "--",
    "...",
    "\"q\" 'q'",
    "{{ x }}",
    "%s $HOME #",
    "\x00\x1b\x7f\u2028\u202e\ufeff\ud800",
    "\t\n\r x",
]


def doctree(text: str, level: int = docutils.utils.Reporter.INFO_LEVEL):
    """Parse ``text`` with docutils, file insertion and raw enabled (what a
    hostile text would need); returns the tree and every message at ``level``."""
    stream = _Stream()
    tree = docutils.core.publish_doctree(
        text,
        settings_overrides={
            "report_level": level,
            "halt_level": 5,
            "warning_stream": stream,
            "file_insertion_enabled": True,
            "raw_enabled": True,
        },
    )
    return tree, stream.text


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s


@pytest.mark.parametrize("text", RST_PAYLOADS)
@pytest.mark.parametrize("context", ["paragraph", "cell", "title", "field", "bullet", "strong"])
def test_escaped_text_is_inert_in_every_context(text: str, context: str) -> None:
    e = rst_escape(text)
    source = {
        "paragraph": f"{e}\n",
        "cell": f".. list-table::\n   :header-rows: 1\n\n   * - h\n     - h2\n   * - {e or chr(92) + ' '}\n     - x\n",
        "title": f"{'=' * max(len(e), 3)}\n{e or chr(92) + ' '}\n{'=' * max(len(e), 3)}\n\nbody\n",
        "field": f":Field: {e}\n:Other: y\n",
        "bullet": f"- {e}\n- y\n",
        "strong": f"x **{e}** y\n" if e else "x y\n",
    }[context]
    tree, messages = doctree(source)
    assert not messages, f"{source!r}: {messages}"
    # Only text, paragraphs and the context's own structure: no markup came from the text.
    allowed = (
        docutils.nodes.document,
        docutils.nodes.paragraph,
        docutils.nodes.Text,
        docutils.nodes.table,
        docutils.nodes.tgroup,
        docutils.nodes.colspec,
        docutils.nodes.thead,
        docutils.nodes.tbody,
        docutils.nodes.row,
        docutils.nodes.entry,
        docutils.nodes.title,
        docutils.nodes.section,
        docutils.nodes.docinfo,
        docutils.nodes.field_list,
        docutils.nodes.field,
        docutils.nodes.field_name,
        docutils.nodes.field_body,
        docutils.nodes.bullet_list,
        docutils.nodes.list_item,
        docutils.nodes.strong,
    )
    bad = [type(n).__name__ for n in tree.findall() if not isinstance(n, allowed)]
    assert not bad, f"{source!r} made {bad}"
    assert " ".join(rst_plain(text).split()) in " ".join(tree.astext().split())


# -- the real Sphinx on a hostile model ---------------------------------------------------------


class _Text(HTMLParser):
    """Visible text of an HTML page (script and style contents excluded), and its script tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.scripts: list[str] = []
        self.alts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag == "img" and dict(attrs).get("alt"):
            self.alts.append(dict(attrs)["alt"])
        if tag in ("script", "style"):
            self._skip += 1
            if tag == "script":
                self.scripts.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def page_text(path: Path) -> _Text:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def flat(text: str) -> str:
    return " ".join(rst_plain(text).split())


def _passwd_marker() -> str:
    lines = [line for line in Path("/etc/passwd").read_text().splitlines() if line.count(":") >= 6]
    return lines[0]


def test_docs_of_a_hostile_model_are_inert_in_real_sphinx(tmp_path: Path) -> None:
    root = tmp_path
    (root / "models").mkdir()
    (root / "models" / "hostile.py").write_text(hostile_model_source())
    docs = root / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text('extensions = ["hamodel.sphinx"]\nhamodel_models = ["models/*.py"]\n')
    (docs / "index.rst").write_text(
        "Test\n====\n\n.. toctree::\n\n   generated/index\n\n"
        "Embedded\n--------\n\n.. hamodel-limitations:: models/hostile.py\n\n"
        ".. hamodel-findings:: models/hostile.py\n\n.. hamodel-strategies:: models/hostile.py\n\n"
        ".. hamodel-diagram:: models/hostile.py\n   :view: logical\n"
    )
    proc = sphinx_build(docs, root / "html")
    page = root / "html" / "generated" / "hostile" / "index.html"
    embedded = root / "html" / "index.html"
    passwd = _passwd_marker()
    # What was published (sphinx -W --keep-going writes every page) comes first ...
    for html_file in sorted((root / "html").rglob("*.html")):
        html = html_file.read_text(encoding="utf-8")
        assert passwd not in html, f"{html_file} publishes /etc/passwd"
        assert not re.search(r"<script>\s*alert", html), f"{html_file} publishes a script from the model"
        assert "<b>x</b>" not in html and 'href="javascript:' not in html
    # ... then the build itself: no warning at all.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    text = page_text(page).text
    for value in (NAME, DESCRIPTION, REASON, RECOVERY, SHARD):
        assert flat(value) in text, f"not shown literally: {flat(value)!r}"
    embedded_text = page_text(embedded).text
    for value in (REASON, SHARD):
        assert flat(value) in embedded_text
    # The figures' alt texts carry the name as plain text.
    assert "logical view of " + flat(NAME) in page_text(embedded).alts
    assert "physical view of " + flat(NAME) in page_text(page).alts


def test_generated_document_parses_without_a_message() -> None:
    """The whole document (no Sphinx roles without configs or diagrams)
    parses in plain docutils with no system message and no node that model
    text could have made (raw, include, literal block from a description)."""
    from hamodel.generators.docs import generate

    dep = resolve(hostile_arch())
    text = generate(dep, slug="k")["k/index.rst"].decode()
    tree, messages = doctree(text, docutils.utils.Reporter.WARNING_LEVEL)
    assert not messages, messages
    assert not list(tree.findall(docutils.nodes.raw))
    assert not list(tree.findall(docutils.nodes.literal_block))
    assert not list(tree.findall(docutils.nodes.footnote_reference))
    assert not list(tree.findall(docutils.nodes.substitution_reference))
    assert not [n for n in tree.findall(docutils.nodes.reference) if "refuri" in n]
    assert (
        len(list(tree.findall(docutils.nodes.title)))
        == len([line for line in text.splitlines() if re.fullmatch(r"(-+|=+|~+)", line)]) - 1
    )  # document title: over+under
    plain = " ".join(tree.astext().split())
    for value in (NAME, DESCRIPTION, REASON, RECOVERY, SHARD):
        assert flat(value) in plain


def test_a_model_without_failure_domains_renders_valid_tables() -> None:
    """A list-table with a header and no row is a docutils error: an empty
    table (no failure domain) is a sentence instead."""
    from hamodel.generators.docs import generate

    lan = Network("lan", subnet="10.0.0.0/24")
    arch = Architecture(
        "flat",
        networks=[lan],
        nodes=[Node("n1", roles={"a"}, addresses={lan: "10.0.0.1"})],
        services=[Service("s", on="a", strategy=Sharded())],
    )
    text = generate(resolve(arch), slug="k")["k/index.rst"].decode()
    _, messages = doctree(text, docutils.utils.Reporter.WARNING_LEVEL)
    assert not messages, messages


# -- the drill report page ---------------------------------------------------------------------


def test_drill_report_page_is_inert() -> None:
    from hamodel.generators.drill_report import render_rst

    evil = ".. raw:: html\n\n   <script>alert('drill')</script>\n"
    report = {
        "model": NAME,
        "model_file": "models/x.py\n\n" + evil,
        "quick": False,
        "duration_s": 1.0,
        "summary": {"agreed": 1, "scenarios": 1},
        "startup": {"first_holder_s": 1.0, "notes": [evil], "services": {evil: evil}},
        "scenarios": [
            {
                "name": "x`` :raw:`y`",
                "title": evil,
                "kind": "holder-crash",
                "vip": "vip`` |x|",
                "service": evil,
                "agreed": True,
                "notes": [evil],
                "prediction": {"reason": evil},
                "measured": {"failover_s": 1.5, evil: evil},
                "checks": [{"what": evil, "expected": evil, "measured": evil, "agreed": False}],
            }
        ],
        "lab": {
            "daemons": {"keepalived": evil, "haproxy": evil},
            "backend_services": [evil],
            "nodes": {
                "n1": {"interfaces": [evil], "keepalived": evil, "haproxy": evil, "sysctl": evil, "backend_ports": [1]}
            },
            "switches": [evil],
            "inter_switch_links": [],
            "client": evil,
            "services_without_backends": [],
            "config_rewrites": [evil],
            "notes": [evil],
        },
    }
    text = render_rst(report)
    tree, messages = doctree(text, docutils.utils.Reporter.WARNING_LEVEL)
    assert not messages, messages
    assert not list(tree.findall(docutils.nodes.raw)), "model text became a raw node"
    assert "<script>alert('drill')</script>" in tree.astext()


# -- diagrams ---------------------------------------------------------------------------------


def test_diagram_title_shows_graphviz_escapes_literally() -> None:
    """Graphviz expands ``\\G``, ``\\N``, ``\\L`` in plain labels: the
    architecture name in a diagram title is shown as written."""
    from hamodel.generators.diagrams import render

    name = 'X\\G\\N\\L\\E\\T\\H\\n<b>&amp;"q"'
    dep = resolve(hostile_arch(name=name), analyse=False)
    svg = render(dep, "logical", formats=("svg",))["svg"].decode()
    import html as html_lib

    texts = [html_lib.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    assert any(t.startswith(name) for t in texts), texts[:3]
