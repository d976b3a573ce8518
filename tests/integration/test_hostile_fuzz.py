"""Hostile free text, generated: every output is inert and accepted, or the model is refused.

Hypothesis draws the model's free-text fields (architecture name and
description, acknowledgement reasons, recovery procedure, shard text,
service group) from hostile alphabets: Jinja2 delimiters, reStructuredText
markup, YAML specials, shell and HAProxy ``$``/``%``, quotes, ``#``,
braces, newlines and Unicode control characters. For each model either
construction fails with a ModelError naming the field, or:

- haproxy.cfg passes the real ``haproxy -c``;
- the Ansible inventory loads in the real ``ansible-inventory --list``
  with the literal text, and templating it in a real ``ansible`` run gives
  the literal text back and runs nothing (the payload would create a
  marker file);
- the generated document parses in docutils without a system message, no
  node model text could make (raw, literal block, reference, footnote,
  substitution), and shows every text literally.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docutils.nodes
import docutils.utils
import pytest
from hamodel.generators.configs import build_configs
from hamodel.generators.docs import generate
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from test_hostile_injection import (
    MARKER,
    ansible_env,
    doctree,
    flat,
    hostile_arch,
    markers,
    needs_ansible,
    payload,
    unwrap,
)

from hamodel.errors import ModelError
from hamodel.pipeline import resolve
from hamodel.validate import haproxy_check

ANSIBLE = shutil.which("ansible") or str(Path(sys.executable).parent / "ansible")
ANSIBLE_INVENTORY = shutil.which("ansible-inventory") or str(Path(sys.executable).parent / "ansible-inventory")

ALPHABET = list("{}%#$'\"\\`|_*:.-[]<>!&;=@~^()/,+? \t\n\rxY09") + [
    "\x00",
    "\x01",
    "\x0b",
    "\x1b",
    "\x7f",
    "\x85",
    "\xa0",
    "\u2028",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\u00e9",
    "\U0001f600",
]
FRAGMENTS = [
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    payload("fuzz"),
    "{% for x in range(9) %}x{% endfor %}",
    "..",
    ".. ",
    ".. raw:: html",
    ".. include:: /etc/passwd",
    "::",
    ":role:`x`",
    "`x`_",
    "`x <javascript:y>`_",
    "|s|",
    "[1]_",
    "[#]_",
    "_`t`",
    "__",
    "**",
    "===",
    "---",
    "\n\n",
    "\n   ",
    "* ",
    "#. ",
    ">>> ",
    "$HOME",
    "${X}",
    "%s",
    "%[src]",
    "# ",
    "!unsafe ",
    "&anchor ",
    "*alias",
    "- ",
    "? ",
    ": ",
    "'",
    '"',
    "yes",
    "null",
    "0644",
    "1e3",
    "~",
]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(ALPHABET, max_size=6)), max_size=6).map("".join)
# Mostly within each field's length and line rules, so that most models are
# accepted and reach every output; the rest must be refused by name.
hostile_line = hostile.map(lambda s: s.replace("\n", " ").replace("\r", " ").replace("\x00", " ") or "x")
hostile_reason = hostile.filter(lambda s: len(s) >= 3)

FIELDS = ("name", "description", "reason", "recovery", "shard", "group")


def ansible_templated(tmp: Path, inventory: Path) -> str:
    """``hamodel_model`` as a real ad-hoc ``ansible`` run templates it (debug msg)."""
    env = ansible_env(tmp)
    env.update({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "oneline"})
    proc = subprocess.run(
        [ANSIBLE, "-i", str(inventory), "n1", "-c", "local", "-m", "debug", "-a", "msg={{ hamodel_model }}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Split on "\n" only: the name may hold other line breaks (U+0085, U+2028).
    line = next(x for x in proc.stdout.split("\n") if x.startswith("n1 | SUCCESS => "))
    return json.loads(line.split(" => ", 1)[1])["msg"]


@needs_ansible
# No shrinking: every step runs real ansible, and a failure prints its example anyway.
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    name=st.one_of(hostile_line, hostile_line, hostile_line, hostile),
    description=hostile,
    reason=st.one_of(hostile_reason, hostile_reason, hostile_reason, hostile),
    recovery=hostile.filter(bool),
    shard=hostile.filter(bool),
    group=st.one_of(st.none(), st.none(), hostile),
)
def test_hostile_free_text_is_refused_or_inert_everywhere(name, description, reason, recovery, shard, group) -> None:
    texts = {
        "name": name,
        "description": description,
        "reason": reason,
        "recovery": recovery,
        "shard": shard,
        "group": group,
    }
    try:
        arch = hostile_arch(**texts)
    except ModelError as exc:
        # Refused: a named error, the path naming one of the fields drawn.
        event("refused")
        assert any(path.split(".")[-1].split("[")[0] in FIELDS for path, _ in exc.problems), exc.problems
        return
    event("accepted")
    dep = resolve(arch)
    files = build_configs(dep)

    # haproxy -c on a node's config (the name is in its header comment).
    check = haproxy_check(files["nodes/n1/haproxy/haproxy.cfg"], "nodes/n1/haproxy/haproxy.cfg")
    assert check.ok, check.output

    # The inventory, through real ansible-core.
    tmp = Path(tempfile.mkdtemp(prefix="hamodel-fuzz-"))
    try:
        inventory = tmp / "inventory.yml"
        inventory.write_bytes(files["ansible/inventory.yml"])
        proc = subprocess.run(
            [ANSIBLE_INVENTORY, "-i", str(inventory), "--list"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp,
            env=ansible_env(tmp),
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        listed = unwrap(json.loads(proc.stdout))["_meta"]["hostvars"]["n1"]
        assert listed["hamodel_model"] == name
        assert ansible_templated(tmp, inventory) == name
        assert markers(tmp) == [], f"{MARKER} created: the inventory was templated"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # The document: valid reStructuredText, nothing but text from the model.
    text = generate(dep, slug="k")["k/index.rst"].decode()
    tree, messages = doctree(text, docutils.utils.Reporter.WARNING_LEVEL)
    assert not messages, messages
    for kind in (
        docutils.nodes.raw,
        docutils.nodes.literal_block,
        docutils.nodes.footnote_reference,
        docutils.nodes.substitution_reference,
        docutils.nodes.citation_reference,
    ):
        assert not list(tree.findall(kind)), kind.__name__
    # The only comment is the generator's own header.
    assert [c.astext()[:26] for c in tree.findall(docutils.nodes.comment)] == ["This file is generated by "]
    assert not [n for n in tree.findall(docutils.nodes.reference) if "refuri" in n]
    plain = " ".join(tree.astext().split())
    for field, value in texts.items():
        if value and flat(value) and field != "group":
            assert flat(value) in plain, (field, flat(value))


@pytest.mark.parametrize("text", [payload("fixed"), "\x1b[31m", "yes", "0644", "~", "{% raw %}", "\u2028\x85"])
def test_known_hostile_names_are_literal_in_the_inventory(text) -> None:
    """The fixed corner cases the fuzzer may miss, without ansible: the
    inventory is valid YAML that reads back the literal name."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    dep = resolve(hostile_arch(name=text), analyse=False)
    data = yaml.load(build_configs(dep)["ansible/inventory.yml"], Loader=Loader)
    assert data["all"]["vars"]["hamodel_model"] == text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "a\nb"),
        ("name", "\ud800"),
        ("reason", "\ud800x"),
        ("description", "\ud800"),
        ("group", ".. raw:: html"),
    ],
)
def test_text_no_output_can_carry_is_refused_by_name(field, value) -> None:
    """Lone surrogates (not encodable), newlines in the name, markup in a
    service group: refused, naming the field."""
    with pytest.raises(ModelError) as exc:
        hostile_arch(**{field: value})
    assert any(path.split(".")[-1].split("[")[0] == field for path, _ in exc.value.problems), exc.value.problems
