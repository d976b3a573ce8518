"""A kubeadm Kubernetes control plane with stacked etcd, as kubeadm's "highly
available topology" guide builds it: three control-plane nodes, each running
an etcd member, kube-apiserver, kube-controller-manager and kube-scheduler;
keepalived and HAProxy on the same nodes give the API one address; three
worker nodes run the cluster DNS and the workloads.

It exercises the dependency kinds the OpenStack models do not have:

- **local**: each kube-apiserver talks to the etcd member on its own node
  (``--etcd-servers=https://127.0.0.1:2379`` in kubeadm's stacked topology),
  and kubeadm points the controller-manager and the scheduler at the
  apiserver of their own node;
- **soft**: the cluster DNS keeps answering from its cache, and running pods
  keep running, while the API is gone: they degrade, they do not stop.

The control-plane nodes are bonded to both top-of-rack switches; the workers
are single-homed, two on tor-a and one on tor-b, and the switches are joined
by one link.
"""

from hamodel import Architecture, Local, Network, Node, Rack, Service, Soft, Switch, VirtualIP
from hamodel.strategies import AppCluster, BehindVip, Coordinated, Vrrp

racks = [Rack(f"rack-{i}") for i in (1, 2, 3)]
tor_a, tor_b = Switch("tor-a"), Switch("tor-b")
lan = Network("lan", subnet="10.30.0.0/24", switches=[tor_a, tor_b])
api_vip = VirtualIP("api-vip", "10.30.0.10", network=lan, dns_name="k8s-api.example.org")

control_plane = [Node(f"cp-{i}", roles={"control-plane"}, domains=[racks[i - 1]], addresses={lan: f"10.30.0.1{i}"},
                      switch=[tor_a, tor_b]) for i in (1, 2, 3)]
workers = [Node(f"worker-{i}", roles={"worker"}, domains=[racks[i - 1]], addresses={lan: f"10.30.0.2{i}"},
                switch=tor_a if i < 3 else tor_b) for i in (1, 2, 3)]

architecture = Architecture(
    "Kubernetes, kubeadm stacked etcd",
    description="Three control-plane nodes with stacked etcd behind a keepalived/HAProxy VIP, three workers.",
    domains=[*racks],
    networks=[lan],
    nodes=[*control_plane, *workers],
    vips=[api_vip],
    supervisor="systemd",
    services=[
        Service("haproxy", on="control-plane", strategy=Vrrp(api_vip, track="haproxy")),
        Service("etcd", on="control-plane", replicas=3, ports=[2379, 2380], strategy=AppCluster()),
        # HAProxy on the VIP forwards 6443 to each apiserver (on its node address, port 6444).
        Service("kube-apiserver", on="control-plane", depends_on=[Local("etcd")],
                strategy=BehindVip(api_vip, port=6443, backend_port_offset=1, tls_passthrough=True,
                                   check={"http_path": "/readyz"})),
        # Leader election through a Lease in the API; each talks to its own node's apiserver.
        Service("kube-controller-manager", on="control-plane", depends_on=[Local("kube-apiserver")],
                strategy=Coordinated(via=[])),
        Service("kube-scheduler", on="control-plane", depends_on=[Local("kube-apiserver")],
                strategy=Coordinated(via=[])),
        # CoreDNS answers from its cache while the API is away: a soft dependency.
        Service("coredns", on="worker", replicas=2, max_per_domain={"rack": 1},
                depends_on=[Soft("kube-apiserver")], strategy=Coordinated()),
        Service("workloads", on="worker", depends_on=["coredns", Soft("kube-apiserver")],
                strategy=Coordinated()),
    ],
)
