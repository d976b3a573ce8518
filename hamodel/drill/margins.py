"""The drill's margin policy: the one place a time bound gets its slack.

A scenario predicts a time bound from the generated configs (a keepalived
master-down interval, HAProxy's ``fall x inter``, corosync's token +
consensus, a Prometheus rule's ``for``) and adds **one** margin to it, the
margin of the *observer* that measures it. The rule:

    margin = the observer's sampling period (the measured time can be late
    by up to one period) + scheduling slack on a loaded 2-core machine
    (daemons and the sampler share the two cores with other jobs).

So the margin is a property of how a lab observes, not of a scenario:
every bound measured by the same observer gets the same margin, and a
scenario never picks its own. The observers differ by an order of
magnitude, and so do the margins:

========================  ===============================================  ========
observer                  samples                                          margin
========================  ===============================================  ========
keepalived/HAProxy lab    VIP holders every 50 ms (``observe.SAMPLE_S``),  0.5 s
                          the client's probe every few ms
Galera lab                HAProxy's view of a member every 50-100 ms,      1.0 s
                          a ``mariadb`` client (a process start) per write
Pacemaker lab             ``crm_mon`` / ``corosync-quorumtool`` (each a    2.0 s
                          process start in a namespace) every 0.5 s
Prometheus (alerts)       the rule evaluation phase (unknown to the        10.0 s
                          drill) on top of 2 scrapes + 1 evaluation
========================  ===============================================  ========

The measured-recovery check (:mod:`hamodel.drill.recovery`) compares an outage
seen by the client's probe or the VIP holder watch (both sampled as in the
keepalived lab, whatever the lab) and so uses :data:`KEEPALIVED_S`.

A bound printed in a report reads ``prediction + margin``; the report's
``why`` strings name the margin where a bound is built from several terms.
Lower bounds (the earliest a failover may happen) subtract the same margin.

:data:`TIE_S` is not a margin on a bound but the resolution of a tie:
backups whose keepalived master-down timers expire within it of each other
are equally likely new holders.
"""

from __future__ import annotations

__all__ = ["GALERA_S", "KEEPALIVED_S", "PACEMAKER_S", "PROMETHEUS_S", "TIE_S"]

#: keepalived / HAProxy lab: holders sampled every 50 ms, the probe every few ms.
KEEPALIVED_S = 0.5
#: Galera lab: HAProxy's view sampled every 50-100 ms; each write a client process.
GALERA_S = 1.0
#: Pacemaker lab: crm_mon and corosync-quorumtool sampled every 0.5 s, each a process start.
PACEMAKER_S = 2.0
#: Prometheus alerts: the evaluation phase the drill cannot see, on top of 2 scrapes + 1 evaluation.
PROMETHEUS_S = 10.0
#: Two backups' VRRP timers that expire less than this apart may fire in either order: the
#: keepalived processes are scheduled independently (tens of ms apart on a loaded 2-core
#: machine). Priorities 10 apart (39 ms of skew at advert_int 1) are told apart.
TIE_S = 0.03
