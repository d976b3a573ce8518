"""Redis under Pacemaker (``ocf:heartbeat:redis``, a promotable clone with
``notify=true``): how long clients wait when the promoted instance's node is lost.

The timeline, from the power loss to a client writing through the address
that follows the promoted role (an ``IPaddr2`` colocated with ``Promoted`` and
ordered after the promote, as the CIB generator writes it):

1. corosync notices the lost node: the token timeout (``token`` plus
   ``token_coefficient`` per node beyond two) without a token, then the
   ``consensus`` timeout (1.2 x token) during which the lost node cannot
   agree to the new membership: the survivors install it only when it expires.
2. the controller reacts: a new DC when the lost node was the DC, the
   scheduler's transition (:data:`PACEMAKER_REACT_S`);
3. fencing: ``pcmk_delay_base`` (the model's ``delay_base_s``), then the
   fence action (:data:`FENCE_ACTION_S`); the lost instance counts as demoted
   and stopped only once its node is fenced;
4. the clone's notification rounds on every surviving instance, pre and post
   each of demote, stop, promote. Two of them run the agent's
   ``redis_demote`` on a replica (``redis_notify``, post-demote and
   post-promote), which sends ``CLIENT PAUSE 2000`` before each check of the
   replication link and whose check (``INFO``, a client command) waits the
   pause out (:data:`REDIS_CLIENT_PAUSE_S`); when the link is not up yet it
   sleeps a second and pauses again;
5. the promote on the chosen survivor (``SLAVEOF NO ONE`` between two
   monitors, :data:`REDIS_PROMOTE_S`);
6. the VIP's ``IPaddr2`` start (:data:`IPADDR2_START_S`) once the promote and
   its post-promote notifications are confirmed.

Bounds (:func:`promotion_span`):

- **min** = token + consensus, plus one :data:`REDIS_CLIENT_PAUSE_S` when a
  replica survives besides the new primary and the service has a VIP: after
  the promote, that replica's post-promote ``redis_demote`` finds its link
  pointing at the lost primary (``master_host`` is not the last known
  master the promote recorded), re-points it and waits one pause at least,
  and the VIP starts after that notification: Pacemaker orders an action
  after a clone's promote with ``notify=true`` after the clone's
  ``confirmed-post_notify_promoted`` pseudo-action, not after the promote
  itself (the ordering's remapped action key, ``lib/pacemaker/pcmk_sched_ordering.c``;
  measured: the VIP came 2.5-4.3 s after the promotion in the five runs
  that report both). Everything else (reaction,
  fencing, agent calls, the promote, the IPaddr2 start) takes more than 0 s
  but has no documented floor, so it adds nothing to the min. The
  post-demote re-pointing is not in the min either: a replica whose link to
  the powered-off primary still reads ``up`` (no reset came; Redis notices
  after ``repl-timeout``) returns "already running as slave" without a pause.
  Without a VIP the row ends at the promote: token + consensus.
- **max** = token + consensus + :data:`PACEMAKER_REACT_S` + fence delay +
  :data:`FENCE_ACTION_S` (with fencing), then the notification rounds as if
  they ran one survivor after another (a loaded controller throttles its
  actions; in parallel they take less): five rounds before the promote at
  :data:`NOTIFY_S` each, except post-demote, which re-points every replica
  (:data:`REDIS_CLIENT_PAUSE_S` + :data:`REDIS_DEMOTE_CALLS_S`); the promote
  (:data:`REDIS_PROMOTE_S`); with a VIP, the post-promote round (the new
  primary at :data:`NOTIFY_S`, each other replica re-pointed in at most
  :data:`REDIS_RELINK_TRIES` pauses with the agent's one-second sleep
  between them) and the IPaddr2 start.

Not in it: the clone's monitor intervals (Promoted 20 s, Unpromoted 60 s in
the generated CIB) and the op timeouts (promote 120 s). A lost node is
noticed by corosync, not by a monitor (a monitor would notice a killed
redis-server alone, a process disruption this row does not cover), and a
timeout bounds a failed operation, not a working one: a bound built from
them (token + consensus + 120 s + 20 s) is true but says nothing.

The agent facts are from resource-agents 4.12.0 ``heartbeat/redis``
(``redis_demote``, ``redis_notify``, ``redis_promote``); the costs of the
agent's own calls were measured in the hamodel Pacemaker lab (a 2-core
machine under load: each a process start or a few, ``crm_mon``,
``crm_attribute``, ``redis-cli``) and are taken at the top of what was seen.
"""

from __future__ import annotations

from hamodel.analysis.recovery_results import Timer

#: ``redis_demote`` sends ``CLIENT PAUSE 2000`` before each check of the replica's link; the
#: check's ``INFO`` is a client command, paused with the rest (Redis >= 6.2: mode ALL by default).
REDIS_CLIENT_PAUSE_S = 2.0
#: ``redis_demote`` sleeps one second between two checks whose link was not up.
REDIS_RELINK_SLEEP_S = 1.0
#: Checks a replica needs after ``SLAVEOF <new primary>`` at most: the first may come before the
#: full resynchronisation is over; a small data set (the generated config keeps none on disk) is
#: synchronised within one pause and sleep. A large data set takes longer: not modelled.
REDIS_RELINK_TRIES = 2
#: The agent's calls around the pause in ``redis_demote`` (``redis-cli -v``, two monitors with
#: ``INFO`` and ``crm_attribute``, ``crm_mon`` in ``master_is_active``, ``CLIENT KILL``):
#: post-demote measured 4.3-4.7 s per replica in the lab, the pause included.
REDIS_DEMOTE_CALLS_S = 2.7
#: ``redis_promote``: two monitors around ``SLAVEOF NO ONE`` and ``crm_attribute``; measured 1.5 s.
REDIS_PROMOTE_S = 2.0
#: One notification that does not re-point (the agent's ``redis_notify`` returns at once; the cost
#: is the controller's action and the agent's start): measured 0.4-0.7 s.
NOTIFY_S = 0.7
#: Notification rounds before the promote on each surviving instance: pre/post demote, pre/post
#: stop, pre-promote (post-demote is the one that re-points).
ROUNDS_BEFORE_PROMOTE = 5
#: The controller's reaction once corosync has the new membership: a new DC when the DC was lost
#: (election, join, CIB sync) and the scheduler's transition; measured 1-4 s in the lab.
PACEMAKER_REACT_S = 4.0
#: A fence action confirmed (the lab's agent: under 1 s; a responsive BMC's power-off and status
#: poll with fence_ipmilan: 1-3 s).
FENCE_ACTION_S = 3.0
#: An ``IPaddr2`` start (``ip addr add``, ARP sent in the background): under 1 s in the lab.
IPADDR2_START_S = 2.0

AGENT = "ocf:heartbeat:redis (resource-agents 4.12.0)"


def promotion_span(
    token_s: float, consensus_s: float, fence_delay_s: float, *, fencing: bool, survivors: int, vip: bool
) -> tuple[float, float, Timer, str, tuple[Timer, ...]]:
    """``(min, max, dominant timer, formula, terms)`` of a Redis promotable clone's failover
    after the promoted node is lost, with ``survivors`` instances left (the new primary among
    them) and, with ``vip``, an address that follows the promoted role (see the module for
    the derivation). The dominant timer is the wait that contributes most to the max among
    the timers (corosync's, the fence delay, the agent's CLIENT PAUSE), not the measured
    costs of the calls."""
    replicas = max(0, survivors - 1)  # besides the new primary
    tok = Timer("corosync token timeout", token_s, "pacemaker.token_ms (+ token_coefficient per node beyond 2)")
    cons = Timer("corosync consensus", consensus_s, "1.2 x token (corosync default)")
    pause = Timer("redis agent CLIENT PAUSE", REDIS_CLIENT_PAUSE_S, f"{AGENT} redis_demote")
    react = Timer("Pacemaker controller reaction", PACEMAKER_REACT_S, "measured in the Pacemaker lab")
    notify = Timer("clone notification", NOTIFY_S, f"{AGENT} notify=true, measured per call")
    promote = Timer("redis promote", REDIS_PROMOTE_S, f"{AGENT} redis_promote, measured")
    terms: list[Timer] = [tok, cons, react]
    waits: list[tuple[float, Timer]] = [(token_s, tok), (consensus_s, cons)]  # (contribution, timer)
    hi = token_s + consensus_s + PACEMAKER_REACT_S
    steps = ["token", "consensus", "reaction"]
    if fencing:
        fd = Timer("fence delay pcmk_delay_base", fence_delay_s, "pacemaker.fence[].delay_base_s")
        fa = Timer("fence action", FENCE_ACTION_S, "fence agent, measured")
        terms += [fd, fa]
        waits.append((fence_delay_s, fd))
        hi += fence_delay_s + FENCE_ACTION_S
        steps += ["fence delay", "fence action"]
    # Before the promote: every survivor's notifications, post-demote re-pointing each replica.
    hi += survivors * ((ROUNDS_BEFORE_PROMOTE - 1) * NOTIFY_S + REDIS_CLIENT_PAUSE_S + REDIS_DEMOTE_CALLS_S)
    hi += REDIS_PROMOTE_S
    pauses = survivors
    steps += [
        f"{survivors} survivors x ({ROUNDS_BEFORE_PROMOTE - 1} notifications + post-demote CLIENT PAUSE + agent calls)",
        "promote",
    ]
    terms += [notify, pause, promote]
    lo = token_s + consensus_s
    low = ["token", "consensus"]
    if vip:
        start = Timer("IPaddr2 start", IPADDR2_START_S, "measured (op start timeout generated apart)")
        terms.append(start)
        # Post-promote: the new primary's notification, each other replica re-pointed to it.
        relink = REDIS_RELINK_TRIES * REDIS_CLIENT_PAUSE_S + (REDIS_RELINK_TRIES - 1) * REDIS_RELINK_SLEEP_S
        hi += NOTIFY_S + replicas * (relink + REDIS_DEMOTE_CALLS_S) + IPADDR2_START_S
        pauses += replicas * REDIS_RELINK_TRIES
        steps += [f"post-promote ({replicas} replicas x up to {REDIS_RELINK_TRIES} CLIENT PAUSEs)", "IPaddr2 start"]
        if replicas:
            lo += REDIS_CLIENT_PAUSE_S
            low.append("one post-promote CLIENT PAUSE")
    waits.append((pauses * REDIS_CLIENT_PAUSE_S, pause))
    dominant = max(waits, key=lambda w: w[0])[1]
    formula = f"min {' + '.join(low)}; max {' + '.join(steps)}"
    return round(lo, 3), round(hi, 3), dominant, formula, tuple(terms)
