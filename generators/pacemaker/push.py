"""How the generated CIB reaches a running cluster without touching node state.

``pcs cluster cib-push --config`` (and ``cibadmin --replace --scope
configuration``) replace the whole ``<configuration>``, its ``<nodes>``
section included: a node an operator put in standby, and every node
attribute, is erased by the next deploy. :data:`CIB_PUSH` is the manifest's
``on_change`` for the CIB instead: it reads the live CIB, puts hamodel's own
sections in it (``resources``, ``constraints``, ``rsc_defaults``; in
``crm_config`` only the properties hamodel sets, the cluster's own such as
``dc-version`` stay), computes the difference with ``crm_diff`` and applies
it with ``cibadmin --patch``: the nodes section and the status are never
sent, and a CIB changed in between makes the patch fail instead of being
overwritten. Run as ``python3 -c CIB_PUSH FILE``; the temporary files hold
fence passwords and live in a private folder removed on exit.
"""

#: The sections of ``<configuration>`` hamodel owns, in the schema's order.
OWNED = ("resources", "constraints", "rsc_defaults")

CIB_PUSH = r"""import os, subprocess, sys, tempfile
import xml.etree.ElementTree as ET
OWNED = ("resources", "constraints", "rsc_defaults")
new = ET.parse(sys.argv[1]).getroot()
new = new if new.tag == "configuration" else new.find("configuration")
q = subprocess.run(["cibadmin", "--query"], capture_output=True, text=True)
if q.returncode:
    sys.exit("cibadmin --query: " + q.stderr.strip())
live = ET.fromstring(q.stdout)
conf = live.find("configuration")
for tag in OWNED:
    ours, old = new.find(tag), conf.find(tag)
    if ours is None:
        continue
    if old is not None:
        conf[list(conf).index(old)] = ours
    else:
        after = max([list(conf).index(conf.find(t)) for t in ("crm_config", "nodes") + OWNED if conf.find(t) is not None])
        conf.insert(after + 1, ours)
props = conf.find("crm_config")
crm = new.find("crm_config")
for ps in (list(crm) if crm is not None else []):
    mine = props.find("cluster_property_set[@id='%s']" % ps.get("id"))
    if mine is None:
        props.append(ps)
        continue
    for nv in ps:
        cur = mine.find("nvpair[@name='%s']" % nv.get("name"))
        if cur is None:
            mine.append(nv)
        else:
            cur.set("value", nv.get("value"))
with tempfile.TemporaryDirectory(prefix="hamodel-cib-") as d:
    old_f, new_f = os.path.join(d, "live.xml"), os.path.join(d, "new.xml")
    with open(old_f, "w") as f:
        f.write(q.stdout)
    ET.ElementTree(live).write(new_f)
    diff = subprocess.run(["crm_diff", "--original", old_f, "--new", new_f, "--no-version"],
                          capture_output=True, text=True)
    if diff.returncode == 0:
        sys.exit(0)
    if diff.returncode != 1:
        sys.exit("crm_diff: " + diff.stderr.strip())
    p = subprocess.run(["cibadmin", "--patch", "--xml-pipe"], input=diff.stdout, capture_output=True, text=True)
    if p.returncode:
        sys.exit("cibadmin --patch: " + (p.stderr or p.stdout).strip())
"""
