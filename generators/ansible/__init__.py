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
``hamodel_serial`` (hosts at a time, default 1; hosts sharing a VRRP group
or a Pacemaker cluster are never in one batch, whatever its value), ``hamodel_health_gate`` (default true), ``hamodel_health_prefix``
(a list put before the health gate's commands), ``hamodel_service_check``
(default ``systemctl is-active --quiet``) and ``hamodel_health_retries``
(seconds, default 30).

Safety, per kind of file: the copies keep a backup; when a validation or
the kind's action (reload) fails, the previous files are put back, the
action runs again with them, and the run fails naming the node, the step,
the files and the daemon's error. A marker under ``/var/lib/hamodel/pending``
is written before an action and removed after it succeeded, so a rerun
retries an action that did not complete even when the files are already in
place. Before installing, each file's sha256 is compared with what hamodel
installed last time (``/var/lib/hamodel/installed.json``): files edited on
the node by hand are listed (and counted as changed, so ``--check`` shows
them). After a host's files, the health gate waits until its daemons run,
every VIP front its HAProxy binds answers (the VIP is held somewhere) and
every HAProxy backend has a server UP; only then does the next host start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from hamodel import __version__

#: The group holding every host of a build; each kind's group is its child.
GROUP = "hamodel"
#: Rolling waves: the inventory's groups ``hamodel_wave_000``, ``hamodel_wave_001``, ...
#: (children of GROUP). No two hosts of a wave share a VRRP group or a Pacemaker
#: cluster; the play takes the waves in order, at most ``hamodel_serial`` hosts of
#: one wave at a time, so a batch never holds two members of one group.
WAVE_PREFIX = "hamodel_wave_"
_WAVES = f"groups | dict2items | selectattr('key', 'match', '^{WAVE_PREFIX}[0-9]+$') | map(attribute='key') | sort"


def waves(hosts: list[str], together: list[set[str]]) -> dict[str, list[str]]:
    """Wave group name -> its hosts: a greedy colouring of ``hosts`` (by name)
    where two hosts found in one set of ``together`` (a VRRP group's members,
    a Pacemaker cluster's nodes) never share a wave. Every host is in one wave."""
    wave: dict[str, int] = {}
    for h in sorted(hosts):
        taken = {wave[o] for t in together if h in t for o in t if o in wave}
        wave[h] = next(i for i in range(len(hosts) + 1) if i not in taken)
    out: dict[str, list[str]] = {}
    for h, i in sorted(wave.items(), key=lambda kv: (kv[1], kv[0])):
        out.setdefault(f"{WAVE_PREFIX}{i:03d}", []).append(h)
    return out


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


STATE = DEST + "/var/lib/hamodel"
#: What the node's installed files hashed to when hamodel last installed them (drift).
RECORD = STATE + "/installed.json"


def _copy_task(kind: str, validate: str | None, secret: bool) -> dict[str, Any]:
    select = "selectattr('secret')" if secret else "rejectattr('secret')"
    copy: dict[str, Any] = {
        "src": "{{ item.src }}",
        "dest": DEST + "{{ item.dest }}",
        "owner": "{{ item.owner }}",
        "group": "{{ item.group }}",
        "mode": "{{ item.mode }}",
        # The previous file, kept until the daemon took the new one: put back on failure.
        "backup": True,
    }
    if validate is not None:
        copy["validate"] = validate
    task: dict[str, Any] = {
        "name": f"{kind}: files holding a secret (output hidden)" if secret else f"{kind}: files",
        "ansible.builtin.copy": copy,
        "loop": f"{{{{ hamodel_files | selectattr('kind', 'equalto', '{kind}') | {select} | list }}}}",
        "loop_control": {"label": "{{ item.dest }}"},
        "register": f"hamodel_copied_{'secret' if secret else 'plain'}",
    }
    if secret:
        # Neither the file (diff) nor a validator's message may show a password.
        task["no_log"] = True
        task["diff"] = False
    return task


def _kind_block(name: str, k: Any) -> dict[str, Any]:
    """One kind's files and action, all or nothing: a failed validation or
    action puts the previous files back, runs the action with them, and fails
    the run naming the node, the files and the daemon's error. A marker
    (``/var/lib/hamodel/pending/<kind>``) written before the action and
    removed after it makes a rerun retry an action that did not complete, even
    when the files are already in place."""
    marker = STATE + f"/pending/{name}"
    files = f"hamodel_files | selectattr('kind', 'equalto', '{name}')"
    commands = f"{{{{ {files} | map(attribute='on_change') | select | list | unique }}}}"
    changed = "((hamodel_copied_plain.results | default([])) + (hamodel_copied_secret.results | default([])))"
    block: list[dict[str, Any]] = [
        # The previous kind's results must not be taken for this kind's in the rescue.
        {
            "name": f"{name}: start",
            "ansible.builtin.set_fact": {
                "hamodel_copied_plain": {"results": []},
                "hamodel_copied_secret": {"results": []},
                "hamodel_pending": {"stat": {"exists": False}},
            },
        },
        {
            "name": f"{name}: folders",
            "ansible.builtin.file": {"path": DEST + "{{ item }}", "state": "directory"},
            "loop": f"{{{{ {files} | map(attribute='dest') | map('dirname') | unique | list }}}}",
        },
        _copy_task(name, k.validate, secret=False),
        _copy_task(name, k.validate, secret=True),
        {
            "name": f"{name}: {k.action} pending",
            "ansible.builtin.file": {"path": marker, "state": "touch", "mode": "0600"},
            "when": f"{changed} | selectattr('changed') | list | length > 0",
            "changed_when": False,
        },
        {
            "name": f"{name}: is {k.action} pending",
            "ansible.builtin.stat": {"path": marker, "get_checksum": False},
            "register": "hamodel_pending",
        },
        {
            "name": f"{name}: {k.action}",
            "ansible.builtin.command": {"argv": "{{ (hamodel_handler_prefix | default([])) + item }}"},
            "loop": commands,
            "when": "hamodel_pending.stat.exists",
            "register": "hamodel_action",
            "changed_when": True,
        },
        {
            "name": f"{name}: {k.action} done",
            "ansible.builtin.file": {"path": marker, "state": "absent"},
            "changed_when": False,
        },
        {
            "name": f"{name}: previous files dropped",
            "ansible.builtin.file": {"path": "{{ item }}", "state": "absent"},
            "loop": f"{{{{ {changed} | selectattr('backup_file', 'defined') | map(attribute='backup_file') | list }}}}",
            "loop_control": {"label": "{{ item | basename }}"},
            "changed_when": False,
        },
    ]
    restored = f"{changed} | selectattr('changed') | list"
    rescue: list[dict[str, Any]] = [
        {
            "name": f"{name}: put the previous files back",
            "ansible.builtin.copy": {
                "src": "{{ item.backup_file }}",
                "dest": "{{ item.dest }}",
                "remote_src": True,
                "mode": "preserve",
            },
            "loop": f"{{{{ {restored} | selectattr('backup_file', 'defined') | list }}}}",
            "loop_control": {"label": "{{ item.dest }}"},
            "no_log": True,
        },
        {
            "name": f"{name}: remove new files that had no previous version",
            "ansible.builtin.file": {"path": "{{ item.dest }}", "state": "absent"},
            "loop": f"{{{{ {restored} | rejectattr('backup_file', 'defined') | list }}}}",
            "loop_control": {"label": "{{ item.dest }}"},
        },
        {
            "name": f"{name}: {k.action} with the previous files",
            "ansible.builtin.command": {"argv": "{{ (hamodel_handler_prefix | default([])) + item }}"},
            "loop": commands,
            "when": f"hamodel_pending.stat.exists | default(false) or ({restored} | length > 0)",
            "register": "hamodel_rollback",
            "ignore_errors": True,
        },
        {
            "name": f"{name}: stop the rollout",
            "ansible.builtin.fail": {
                "msg": (
                    f"{name} on {{{{ inventory_hostname }}}}: "
                    "{{ ansible_failed_task.name }} failed for "
                    f"{{{{ {files} | map(attribute='dest') | join(', ') }}}}: "
                    "{% set r = ansible_failed_result %}"
                    "{% for x in (r.results | default([r])) if x.failed | default(false) %}"
                    "{{ (x.stderr | default('') or x.msg | default('')) | trim }} {% endfor %}"
                    "; the previous files are back"
                    "{% if hamodel_rollback.results | default([]) | selectattr('rc', 'defined') | list %}"
                    " and {{ 'the previous configuration is running again' "
                    "if hamodel_rollback.results | selectattr('failed') | list | length == 0 "
                    "else 'running the previous configuration failed too: the daemon may be down' }}{% endif %}"
                    f"; a rerun retries {k.action}"
                )
            },
        },
    ]
    return {"name": f"{name}: install, {k.action}, or put the previous files back", "block": block, "rescue": rescue}


def _drift_tasks() -> list[dict[str, Any]]:
    """Per-file drift: each installed file's sha256 against what hamodel
    installed last time (a hand edit) and against this build's manifest."""
    return [
        {
            "name": "installed files",
            "ansible.builtin.stat": {
                "path": DEST + "{{ item.dest }}",
                "checksum_algorithm": "sha256",
                "get_mime": False,
                "get_attributes": False,
            },
            "loop": "{{ hamodel_files }}",
            "loop_control": {"label": "{{ item.dest }}"},
            "register": "hamodel_installed",
        },
        {
            "name": "what hamodel installed last time",
            "ansible.builtin.slurp": {"src": RECORD},
            "register": "hamodel_record",
            "failed_when": False,
        },
        {
            "name": "files changed on the node by hand since hamodel installed them",
            "vars": {
                "record": "{{ (hamodel_record.content | b64decode | from_json) if hamodel_record.content "
                "is defined else {} }}",
                "manifest": "{{ (lookup('ansible.builtin.file', hamodel_manifest) | from_json).files }}",
                "drifted": "{% set out = [] %}{% for r in hamodel_installed.results %}"
                "{% if r.stat.exists and r.item.dest in record "
                "and record[r.item.dest] != r.stat.checksum %}"
                "{% set _ = out.append(r.item.dest) %}{% endif %}{% endfor %}{{ out }}",
                "outdated": "{% set out = [] %}{% for r in hamodel_installed.results %}"
                "{% if not r.item.secret and (not r.stat.exists or "
                "manifest[r.item.path].sha256 != r.stat.checksum) %}"
                "{% set _ = out.append(r.item.dest) %}{% endif %}{% endfor %}{{ out }}",
            },
            "ansible.builtin.debug": {"msg": "{{ {'changed_by_hand': drifted, 'differ_from_this_build': outdated} }}"},
            # Changed when a file was edited by hand: --check lists them, and a run says so.
            "changed_when": "drifted | length > 0",
        },
    ]


def _record_tasks() -> list[dict[str, Any]]:
    return [
        {
            "name": "installed files, after the install",
            "ansible.builtin.stat": {
                "path": DEST + "{{ item.dest }}",
                "checksum_algorithm": "sha256",
                "get_mime": False,
                "get_attributes": False,
            },
            "loop": "{{ hamodel_files }}",
            "loop_control": {"label": "{{ item.dest }}"},
            "register": "hamodel_installed",
        },
        {
            "name": "remember what was installed (drift on the next run)",
            "ansible.builtin.copy": {
                "dest": RECORD,
                "mode": "0600",
                "content": "{% set out = {} %}{% for r in hamodel_installed.results if r.stat.exists %}"
                "{% set _ = out.update({r.item.dest: r.stat.checksum}) %}{% endfor %}"
                "{{ out | to_nice_json }}\n",
            },
            "changed_when": False,
        },
    ]


def _health_tasks() -> list[dict[str, Any]]:
    """The gate before the next node: the daemons of this node's files run,
    every VIP front this node's HAProxy binds answers (the VIP is held
    somewhere and its HAProxy listens), and every HAProxy backend with
    servers has one UP on this node. ``-e hamodel_health_gate=false`` skips it
    (a staging tree without daemons)."""
    when = "hamodel_health_gate | default(true) | bool"
    retries = "{{ hamodel_health_retries | default(30) }}"
    return [
        {
            "name": "health gate: the daemons run",
            "ansible.builtin.command": {
                "argv": "{{ (hamodel_health_prefix | default([])) + (hamodel_service_check "
                "| default(['systemctl', 'is-active', '--quiet'])) + [item] }}"
            },
            "loop": "{{ hamodel_health.daemons }}",
            "register": "hamodel_daemon",
            "until": "hamodel_daemon.rc == 0",
            "retries": retries,
            "delay": 1,
            "changed_when": False,
            "when": when,
        },
        {
            "name": "health gate: the VIP fronts answer (the VIP is held somewhere)",
            "ansible.builtin.wait_for": {
                "host": "{{ item.host }}",
                "port": "{{ item.port }}",
                "timeout": "{{ hamodel_health_retries | default(30) }}",
            },
            "loop": "{{ hamodel_health.fronts }}",
            "loop_control": {"label": "{{ item.host }}:{{ item.port }}"},
            "when": when,
        },
        {
            "name": "health gate: every HAProxy backend has a server UP",
            "ansible.builtin.command": {
                "argv": "{{ (hamodel_health_prefix | default([])) + ['python3', '-c', "
                "hamodel_backends_up, hamodel_health.stats_socket] }}"
            },
            "vars": {"hamodel_backends_up": BACKENDS_UP},
            "register": "hamodel_backends",
            "until": "hamodel_backends.rc == 0",
            "retries": retries,
            "delay": 1,
            "changed_when": False,
            "when": f"{when} and hamodel_health.stats_socket | length > 0",
        },
    ]


#: Asks HAProxy's stats socket (argv[1]) for ``show stat``; exits 1 naming the
#: backends that have servers and none UP.
BACKENDS_UP = """import csv, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
rows = list(csv.DictReader(data.decode().lstrip("# ").splitlines()))
servers = {}
for r in rows:
    if r["svname"] not in ("FRONTEND", "BACKEND"):
        servers.setdefault(r["pxname"], []).append(r["status"])
down = sorted(p for p, st in servers.items() if not any(x.startswith(("UP", "no check")) for x in st))
if down:
    sys.exit("no server UP in " + ", ".join(down))
"""


def _play(kinds_table: Mapping[str, Any], manifest_format: int) -> list[dict[str, Any]]:
    kinds = sorted(kinds_table.items(), key=lambda kv: (kv[1].order, kv[0]))
    tasks: list[dict[str, Any]] = [
        {
            "name": "the build output is the one this inventory describes",
            "ansible.builtin.assert": {
                "that": [
                    "(lookup('ansible.builtin.file', hamodel_manifest) | from_json).model.sha256 "
                    "== hamodel_model_sha256",
                    f"(lookup('ansible.builtin.file', hamodel_manifest) | from_json).format == {manifest_format}",
                ],
                "fail_msg": "{{ hamodel_manifest }} is not the build the inventory came from "
                "(set -e hamodel_root=OUT to the build output folder)",
                "quiet": True,
            },
            "run_once": True,
        },
        *_drift_tasks(),
        {
            "name": "packages the files need",
            "ansible.builtin.package": {"name": "{{ hamodel_packages }}", "state": "present"},
            "when": "hamodel_install_packages | default(false) | bool",
        },
        {
            "name": "files the configs read (certificates, keys)",
            "ansible.builtin.stat": {
                "path": "{{ item }}",
                "get_checksum": False,
                "get_mime": False,
                "get_attributes": False,
            },
            "loop": "{{ hamodel_required_files }}",
            "register": "hamodel_required",
        },
        {
            "name": "stop when one is missing",
            "ansible.builtin.assert": {
                # corosync's key comes with the cluster play when given (-e hamodel_corosync_authkey=FILE).
                "that": [
                    "item.stat.exists or (item.item == '/etc/corosync/authkey' and hamodel_corosync_authkey is defined)"
                ],
                "fail_msg": "{{ item.item }} is missing on {{ inventory_hostname }}: the manifest lists it as a "
                "prerequisite; install it first",
                "quiet": True,
            },
            "loop": "{{ hamodel_required.results }}",
            "loop_control": {"label": "{{ item.item }}"},
        },
        {
            "name": "runtime folders",
            "ansible.builtin.file": {
                "path": DEST + "{{ item.path }}",
                "state": "directory",
                "owner": "{{ item.owner }}",
                "group": "{{ item.group }}",
                "mode": "{{ item.mode }}",
            },
            "loop": "{{ hamodel_directories }}",
            "loop_control": {"label": "{{ item.path }}"},
        },
    ]
    tasks.append(
        {
            "name": "hamodel's state on the node (pending actions, what was installed)",
            "ansible.builtin.file": {"path": STATE + "/pending", "state": "directory", "mode": "0700"},
        }
    )
    for name, k in kinds:
        if k.scope == "cluster":
            continue  # the cluster play's (_cluster_play)
        if k.action is None:
            tasks.append(
                {
                    "name": f"{name}: folders",
                    "ansible.builtin.file": {"path": DEST + "{{ item }}", "state": "directory"},
                    "loop": f"{{{{ hamodel_files | selectattr('kind', 'equalto', '{name}') | map(attribute='dest') "
                    "| map('dirname') | unique | list }}",
                }
            )
            tasks.append(_copy_task(name, k.validate, secret=False))
            tasks.append(_copy_task(name, k.validate, secret=True))
        else:
            tasks.append(_kind_block(name, k))
    tasks += _record_tasks() + _health_tasks()
    return [
        {
            "name": "install the files hamodel generated",
            # The waves in order (see WAVE_PREFIX): every host of the build is in one.
            # An inventory without waves (not this build's): the whole group, hamodel_serial at a time.
            "hosts": "{{ (" + _WAVES + " | join(':')) or '" + GROUP + "' }}",
            "gather_facts": False,
            # One host at a time by default, each batch through the health gate before
            # the next: a change that breaks a node stops the rollout there. With
            # hamodel_serial > 1 a batch takes up to that many hosts of one wave, never
            # two members of a VRRP group or Pacemaker cluster.
            "serial": "{% set c = [hamodel_serial | default(1) | int, 1] | max %}{% set b = [] %}{% for w in "
            + _WAVES
            + " %}{% for i in range(0, groups[w] | length, c) %}{% set _ = b.append([c, (groups[w] "
            "| length) - i] | min) %}{% endfor %}{% endfor %}{{ b or [c] }}",
            "any_errors_fatal": True,
            "tasks": tasks,
        },
        *_cluster_play(kinds),
    ]


def _cmd(argv: str) -> dict[str, Any]:
    return {"argv": "{{ (hamodel_handler_prefix | default([])) + " + argv + " }}"}


def _cluster_play(kinds: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """The Pacemaker cluster, after the node files (HAProxy's config is in place
    before the CIB starts HAProxy): corosync's key and corosync.conf on every
    cluster node first; then either the first start of the cluster stack on
    the nodes where it is not running, or one ``corosync-cfgtool -R`` for the
    whole cluster (a reload on one node while another still has the old node
    list would split it); quorum and a DC awaited; then the CIB, once, from
    the node that holds it; ``crm_verify -L`` last."""
    cluster = [(n, k) for n, k in kinds if k.scope == "cluster"]
    if not cluster:
        return []
    coro = dict(cluster).get("corosync")
    files = "hamodel_files | selectattr('kind', 'equalto', 'corosync')"
    conf_block: list[dict[str, Any]] = [
        {
            "name": "corosync: start",
            "ansible.builtin.set_fact": {
                "hamodel_copied_plain": {"results": []},
                "hamodel_copied_secret": {"results": []},
                "hamodel_pending": {"stat": {"exists": False}},
            },
        },
        {
            "name": "corosync: folders",
            "ansible.builtin.file": {"path": DEST + "{{ item }}", "state": "directory"},
            "loop": f"{{{{ {files} | map(attribute='dest') | map('dirname') | unique | list }}}}",
        },
        _copy_task("corosync", coro.validate if coro else None, secret=False),
        {
            "name": "corosync: is the cluster stack running here",
            "ansible.builtin.command": {
                "argv": "{{ (hamodel_health_prefix | default([])) + (hamodel_service_check "
                "| default(['systemctl', 'is-active', '--quiet'])) + ['corosync'] }}"
            },
            "register": "hamodel_corosync_running",
            "failed_when": False,
            "changed_when": False,
        },
        {
            "name": "corosync: changed here",
            "ansible.builtin.set_fact": {
                "hamodel_corosync_changed": "{{ hamodel_copied_plain.results "
                "| selectattr('changed') | list | length > 0 }}"
            },
        },
    ]
    tasks: list[dict[str, Any]] = [
        {
            "name": "corosync: the cluster key (from -e hamodel_corosync_authkey=FILE, made once with corosync-keygen)",
            "ansible.builtin.copy": {
                "src": "{{ hamodel_corosync_authkey }}",
                "dest": DEST + "/etc/corosync/authkey",
                "owner": "root",
                "group": "root",
                "mode": "0400",
            },
            "when": "hamodel_corosync_authkey is defined",
            "no_log": True,
            "diff": False,
        },
        {
            "name": "corosync: corosync.conf on every cluster node, then one reload or a first start",
            "block": conf_block
            + [
                {
                    "name": "corosync: first start of the cluster stack where it does not run",
                    "ansible.builtin.command": _cmd(
                        "(hamodel_cluster_start | default(['systemctl', 'start', 'corosync', 'pacemaker']))"
                    ),
                    "when": "hamodel_corosync_running.rc != 0",
                },
                {
                    "name": "corosync: one reload for the whole cluster (every node has the new corosync.conf)",
                    "ansible.builtin.command": _cmd("['corosync-cfgtool', '-R']"),
                    "run_once": True,
                    "when": "ansible_play_hosts | map('extract', hostvars, 'hamodel_corosync_changed') | select | list "
                    "| length > 0 and ansible_play_hosts | map('extract', hostvars, 'hamodel_corosync_running') "
                    "| map(attribute='rc') | select('equalto', 0) | list | length > 0",
                },
                {
                    "name": "corosync: quorum",
                    "ansible.builtin.command": _cmd("['corosync-quorumtool', '-s']"),
                    "register": "hamodel_quorum",
                    "until": "hamodel_quorum.rc == 0",
                    "retries": "{{ hamodel_health_retries | default(30) }}",
                    "delay": 2,
                    "changed_when": False,
                },
                {
                    "name": "pacemaker: a DC elected",
                    "ansible.builtin.command": _cmd("['crm_mon', '--one-shot', '--output-as=xml']"),
                    "timeout": 60,
                    "register": "hamodel_dc",
                    "failed_when": False,
                    "until": "hamodel_dc.rc == 0 and 'current_dc present=\"true\"' in hamodel_dc.stdout",
                    "retries": "{{ hamodel_health_retries | default(30) }}",
                    "delay": 2,
                    "changed_when": False,
                },
                {
                    "name": "corosync: previous files dropped",
                    "ansible.builtin.file": {"path": "{{ item }}", "state": "absent"},
                    "loop": "{{ hamodel_copied_plain.results | selectattr('backup_file', 'defined') "
                    "| map(attribute='backup_file') | list }}",
                    "changed_when": False,
                },
            ],
            "rescue": [
                {
                    "name": "corosync: put the previous corosync.conf back",
                    "ansible.builtin.copy": {
                        "src": "{{ item.backup_file }}",
                        "dest": "{{ item.dest }}",
                        "remote_src": True,
                        "mode": "preserve",
                    },
                    "loop": "{{ hamodel_copied_plain.results | selectattr('changed') | selectattr('backup_file', 'defined') "
                    "| list }}",
                    "loop_control": {"label": "{{ item.dest }}"},
                },
                {
                    "name": "corosync: stop",
                    "ansible.builtin.fail": {
                        "msg": "corosync on {{ inventory_hostname }}: {{ ansible_failed_task.name }} "
                        "failed: {{ (ansible_failed_result.stderr | default('') or "
                        "ansible_failed_result.msg | default('')) | trim }}; the previous "
                        "corosync.conf is back where it had changed"
                    },
                },
            ],
        },
    ]
    for name, k in cluster:
        if name == "corosync":
            continue
        if k.action is None:
            tasks.append(_copy_task(name, k.validate, secret=False))
            tasks.append(_copy_task(name, k.validate, secret=True))
        else:
            tasks.append(_kind_block(name, k))
    tasks.append(
        {
            "name": "pacemaker: crm_verify -L (the live configuration is valid)",
            "ansible.builtin.command": _cmd("['crm_verify', '-L']"),
            "run_once": True,
            "changed_when": False,
        }
    )
    return [
        {
            "name": "the Pacemaker cluster: corosync.conf everywhere, one reload or a first start, then the CIB",
            "hosts": group_name("corosync"),
            "gather_facts": False,
            "any_errors_fatal": True,
            "tasks": tasks,
        }
    ]


def render_playbook(kinds: Mapping[str, Any], manifest_format: int) -> bytes:
    """The playbook's bytes (deterministic: the table's constants only).

    ``kinds`` is the manifest's file-kind table
    (:data:`hamodel.generators.manifest.KINDS`) and ``manifest_format`` its
    FORMAT: passed in by the manifest, which imports this module, so that
    the two do not import each other.
    """
    header = (
        f"# Generated by hamodel {__version__} from its file-kind table; do not edit.\n"
        "# ansible-playbook -i OUT/ansible/inventory.yml [-i SITE] OUT/ansible/deploy.yml [--diff]\n"
        "# Variables: hamodel_root, hamodel_dest_root, hamodel_handler_prefix, hamodel_install_packages,\n"
        "# hamodel_serial (see the hamodel guide, 'Deploying with Ansible').\n"
    )
    body = yaml.safe_dump(
        _play(kinds, manifest_format), sort_keys=False, default_flow_style=False, width=1000, allow_unicode=False
    )
    return (header + body).encode()
