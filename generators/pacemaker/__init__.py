"""corosync.conf per cluster node, and the cluster's CIB with an equivalent pcs script.

Facts come from the Deployment: the cluster's nodes (the model's
``PacemakerCluster.on`` roles), where each service was placed
(``dep.placement``), which VIPs Pacemaker holds and on which nodes
(``dep.vrrp_groups`` with ``manager == "pacemaker"``). Nothing is decided
here that the model or the placement already decided; this module only
chooses how Pacemaker expresses it (resource agents, constraints, ids).

Output layout (relative to OUT)::

    nodes/<node>/corosync/corosync.conf     one per cluster node (same text; kind ``corosync``)
    pacemaker/cib.xml                       the whole CIB (kind ``pacemaker-cib``; secret when a
                                            fence device has a password)
    pacemaker/pcs-setup.sh                  the same configuration as pcs commands (kind ``pacemaker-pcs``)

The two cluster files are listed in the manifest on the cluster's first node (by name), installed
there in ``/etc/hamodel/pacemaker/`` and applied once, from there, as a patch of hamodel's own
sections against the live CIB (:data:`hamodel.generators.pacemaker.push.CIB_PUSH`; never
``cib-push --config``, which replaces the nodes section and erases standby and node attributes),
or with ``sh /etc/hamodel/pacemaker/pcs-setup.sh``, which pushes only what it changed.

Resource ids (what a drill or an operator names):

- a Pacemaker VIP ``<vip>``: ``ip-<vip>`` (``ocf:heartbeat:IPaddr2``);
- a service: ``<service>`` and its clone ``<service>-clone``; a service whose
  name starts with a digit gets ``svc-`` in front (XML ids start with a letter);
- a fence device ``<dev>``: ``fence-<dev>``, or ``fence-<dev>-<node>`` per node.

Modules: :mod:`.corosync` plans corosync.conf, :mod:`.cib` plans the CIB,
:mod:`.plan` puts the two together, :mod:`.render` writes the files;
:func:`generate` is the entry point.
"""

from __future__ import annotations

from hamodel.generators.common import NodeFile, Secrets
from hamodel.generators.pacemaker.cib import CibPlan as CibPlan
from hamodel.generators.pacemaker.cib import Colocation as Colocation
from hamodel.generators.pacemaker.cib import Location as Location
from hamodel.generators.pacemaker.cib import Op as Op
from hamodel.generators.pacemaker.cib import Order as Order
from hamodel.generators.pacemaker.cib import Param as Param
from hamodel.generators.pacemaker.cib import Primitive as Primitive
from hamodel.generators.pacemaker.cib import constraint_id as constraint_id
from hamodel.generators.pacemaker.cib import duplicate_ids as duplicate_ids
from hamodel.generators.pacemaker.cib import managed_services as managed_services
from hamodel.generators.pacemaker.cib import plan_cib as plan_cib
from hamodel.generators.pacemaker.corosync import CorosyncNode as CorosyncNode
from hamodel.generators.pacemaker.corosync import CorosyncPlan as CorosyncPlan
from hamodel.generators.pacemaker.corosync import default_rings as default_rings
from hamodel.generators.pacemaker.corosync import plan_corosync as plan_corosync
from hamodel.generators.pacemaker.plan import ClusterPlan as ClusterPlan
from hamodel.generators.pacemaker.plan import plan_pacemaker
from hamodel.generators.pacemaker.render import AUTHKEY as AUTHKEY
from hamodel.generators.pacemaker.render import CIB_DEST as CIB_DEST
from hamodel.generators.pacemaker.render import CIB_FEATURE_SET as CIB_FEATURE_SET
from hamodel.generators.pacemaker.render import CIB_PATH as CIB_PATH
from hamodel.generators.pacemaker.render import CIB_SCHEMA as CIB_SCHEMA
from hamodel.generators.pacemaker.render import COROSYNC_DEST as COROSYNC_DEST
from hamodel.generators.pacemaker.render import PCS_DEST as PCS_DEST
from hamodel.generators.pacemaker.render import PCS_PATH as PCS_PATH
from hamodel.generators.pacemaker.render import TEMPLATES as TEMPLATES
from hamodel.generators.pacemaker.render import render_pacemaker

from hamodel.deployment import Deployment


def generate(dep: Deployment, secrets: Secrets, redacted: Secrets) -> list[NodeFile]:
    """Deployment -> corosync.conf per cluster node, cib.xml and pcs-setup.sh (the generators'
    common entry point); nothing for an architecture without ``pacemaker``."""
    return render_pacemaker(dep, plan_pacemaker(dep, secrets), plan_pacemaker(dep, redacted))
