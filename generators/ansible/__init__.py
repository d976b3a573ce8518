"""ansible/deploy.yml: the playbook that installs a build's node files.

Generated (not a static file in the package) from the same table as the
manifest, :data:`hamodel.generators.manifest.KINDS`: one step per file kind
in install order, with that kind's ``validate:`` command and a handler
running its ``on_change`` command. A generator that adds a kind gets its
deploy step and handler without touching the playbook. No model text
reaches it (only the table's constants), so it needs no escaping, and it
lands in OUT/ansible/ beside the inventory of the same build: the two
never come from different hamodel versions.

What the playbook does, per host of the ``hamodel`` group (the files are
described per host by ``hamodel_files`` in ansible/inventory.yml):

1. checks that ``hamodel_root`` holds the build the inventory came from
   (``manifest.json``'s model hash);
2. installs the packages the files need, only with
   ``-e hamodel_install_packages=true``;
3. stops if a file a config reads (certificate, CA) is missing, and
   creates runtime folders (the stats socket's);
4. per kind, in install order: copies every file with its owner, group
   and mode, ``validate:`` (the new file is checked on the node before it
   replaces the old one), notifies the kind's handler when the file
   changed, and runs the handlers before the next kind (sysctl applied
   before HAProxy reloads, HAProxy before keepalived). Files holding a
   secret are copied with ``no_log`` and ``diff: false``: no password
   shows in ``--diff`` or any verbosity.

Variables an operator may set (``-e``): ``hamodel_root`` (the build output,
default ``{{ playbook_dir }}/..``), ``hamodel_dest_root`` (a prefix for every
path written on the node, default empty; for staging and tests),
``hamodel_handler_prefix`` (a list put before every handler command, e.g.
``["echo"]`` to see without reloading), ``hamodel_install_packages``,
``hamodel_serial`` (hosts at a time, default 1: never every load balancer
at once).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import yaml

from hamodel import __version__

#: The group holding every host of a build; each kind's group is its child.
GROUP = "hamodel"
#: Handler names: one per action of :data:`KINDS`.
HANDLER = "hamodel: {action}"


def group_name(kind: str) -> str:
    """The inventory group of the hosts with a file of ``kind``: prefixed, so
    it never meets a site group of the same name (OpenStack-Ansible's
    ``haproxy``, kolla-ansible's ``keepalived``...), and a valid Python
    identifier as Ansible wants group names (``pacemaker-cib`` gives
    ``hamodel_pacemaker_cib``: a ``-`` draws its invalid-characters warning)."""
    name = f"{GROUP}_{re.sub(r'[^A-Za-z0-9_]', '_', kind)}"
    if not name.isidentifier():  # the kinds are the manifest table's constants
        raise ValueError(f"file kind {kind!r} gives no valid Ansible group name")
    return name


DEST = "{{ hamodel_dest_root | default('') }}"


def _copy_task(kind: str, validate: str | None, action: str | None, secret: bool) -> dict[str, Any]:
    select = "selectattr('secret')" if secret else "rejectattr('secret')"
    copy: dict[str, Any] = {
        "src": "{{ item.src }}",
        "dest": DEST + "{{ item.dest }}",
        "owner": "{{ item.owner }}",
        "group": "{{ item.group }}",
        "mode": "{{ item.mode }}",
    }
    if validate is not None:
        copy["validate"] = validate
    task: dict[str, Any] = {
        "name": f"{kind}: files holding a secret (output hidden)" if secret else f"{kind}: files",
        "ansible.builtin.copy": copy,
        "loop": f"{{{{ hamodel_files | selectattr('kind', 'equalto', '{kind}') | {select} | list }}}}",
        "loop_control": {"label": "{{ item.dest }}"},
    }
    if secret:
        # Neither the file (diff) nor a validator's message may show a password.
        task["no_log"] = True
        task["diff"] = False
    if action is not None:
        task["notify"] = HANDLER.format(action=action)
    return task


def _play(kinds_table: Mapping[str, Any], manifest_format: int) -> list[dict[str, Any]]:
    kinds = sorted(kinds_table.items(), key=lambda kv: (kv[1].order, kv[0]))
    tasks: list[dict[str, Any]] = [
        {"name": "the build output is the one this inventory describes",
         "ansible.builtin.assert": {
             "that": ["(lookup('ansible.builtin.file', hamodel_manifest) | from_json).model.sha256 "
                      "== hamodel_model_sha256",
                      f"(lookup('ansible.builtin.file', hamodel_manifest) | from_json).format == {manifest_format}"],
             "fail_msg": "{{ hamodel_manifest }} is not the build the inventory came from "
                         "(set -e hamodel_root=OUT to the build output folder)",
             "quiet": True},
         "run_once": True},
        {"name": "packages the files need",
         "ansible.builtin.package": {"name": "{{ hamodel_packages }}", "state": "present"},
         "when": "hamodel_install_packages | default(false) | bool"},
        {"name": "files the configs read (certificates, keys)",
         "ansible.builtin.stat": {"path": "{{ item }}", "get_checksum": False, "get_mime": False,
                                  "get_attributes": False},
         "loop": "{{ hamodel_required_files }}",
         "register": "hamodel_required"},
        {"name": "stop when one is missing",
         "ansible.builtin.assert": {
             "that": ["item.stat.exists"],
             "fail_msg": "{{ item.item }} is missing on {{ inventory_hostname }}: the manifest lists it as a "
                         "prerequisite; install it first",
             "quiet": True},
         "loop": "{{ hamodel_required.results }}",
         "loop_control": {"label": "{{ item.item }}"}},
        {"name": "runtime folders",
         "ansible.builtin.file": {"path": DEST + "{{ item.path }}", "state": "directory", "owner": "{{ item.owner }}",
                                  "group": "{{ item.group }}", "mode": "{{ item.mode }}"},
         "loop": "{{ hamodel_directories }}",
         "loop_control": {"label": "{{ item.path }}"}},
    ]
    for name, k in kinds:
        tasks.append({
            "name": f"{name}: folders",
            "ansible.builtin.file": {"path": DEST + "{{ item }}", "state": "directory"},
            "loop": f"{{{{ hamodel_files | selectattr('kind', 'equalto', '{name}') | map(attribute='dest') "
                    "| map('dirname') | unique | list }}",
        })
        tasks.append(_copy_task(name, k.validate, k.action, secret=False))
        tasks.append(_copy_task(name, k.validate, k.action, secret=True))
        if k.action is not None:
            tasks.append({"name": f"{name}: {k.action} now, before the next kind",
                          "ansible.builtin.meta": "flush_handlers"})
    handlers = []
    for name, k in kinds:
        if k.action is None:
            continue
        handlers.append({
            "name": HANDLER.format(action=k.action),
            "ansible.builtin.command": {"argv": "{{ (hamodel_handler_prefix | default([])) + item }}"},
            "loop": f"{{{{ hamodel_files | selectattr('kind', 'equalto', '{name}') | map(attribute='on_change') "
                    "| select | list | unique }}",
            "changed_when": True,
        })
    return [{
        "name": "install the files hamodel generated",
        "hosts": GROUP,
        "gather_facts": False,
        # One host at a time by default: a change that breaks a node stops
        # the rollout before it reaches the others.
        "serial": "{{ hamodel_serial | default(1) }}",
        "any_errors_fatal": True,
        "tasks": tasks,
        "handlers": handlers,
    }]


def render_playbook(kinds: Mapping[str, Any], manifest_format: int) -> bytes:
    """The playbook's bytes (deterministic: the table's constants only).

    ``kinds`` is the manifest's file-kind table
    (:data:`hamodel.generators.manifest.KINDS`) and ``manifest_format`` its
    FORMAT: passed in by the manifest, which imports this module, so that
    the two do not import each other.
    """
    header = (f"# Generated by hamodel {__version__} from its file-kind table; do not edit.\n"
              "# ansible-playbook -i OUT/ansible/inventory.yml [-i SITE] OUT/ansible/deploy.yml [--diff]\n"
              "# Variables: hamodel_root, hamodel_dest_root, hamodel_handler_prefix, hamodel_install_packages,\n"
              "# hamodel_serial (see the hamodel guide, 'Deploying with Ansible').\n")
    body = yaml.safe_dump(_play(kinds, manifest_format), sort_keys=False, default_flow_style=False, width=1000, allow_unicode=False)
    return (header + body).encode()
