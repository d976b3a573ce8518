"""Settings hamodel writes into generated configs that the analysis also
reasons about (predicted recovery): kept here, below both, so that the
generators and :mod:`hamodel.analysis.recovery` read one value and the
analysis never imports the Deployment.
"""

from __future__ import annotations

#: corosync's default token_coefficient: with 3 or more nodes the real token
#: timeout is token + (nodes - 2) * token_coefficient (corosync.conf(5)).
TOKEN_COEFFICIENT_MS = 650
#: The start timeout of a generated IPaddr2 resource (the CIB's op and the recovery bound).
IPADDR2_START_TIMEOUT_S = 20


def corosync_token_timeout_ms(token_ms: int, nodes: int) -> int:
    """The token timeout corosync really uses (token_coefficient added from 3 nodes on)."""
    return token_ms + max(0, nodes - 2) * TOKEN_COEFFICIENT_MS
