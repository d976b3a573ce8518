"""Public fronts (issue 24): status pages denied on a public VIP, HSTS on
TLS-terminated binds, HAProxy's stickiness cookie ``HttpOnly`` and, where
every bind terminates TLS, ``Secure``.

Asserted on the generated text, with ``haproxy -dW -c`` (warnings are
errors), and on what a real haproxy in a network namespace answers to curl
(the lab of test_haproxy_production: real backends, a throwaway certificate).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_haproxy_production import (
    INTERNAL,
    NEEDS_ROOT,
    PUBLIC,
    both_fronts,
    config,
    curl,
    lab,
    section,
    server_states,
    two_vip_arch,
    wait_for,
)

from hamodel.errors import HamodelError
from hamodel.validate import haproxy_check

TLS_ONLY = {
    "vip": "pvip",
    "port": 443,
    "backend_port": 8080,
    "mode": "http",
    "tls": {"certificate": "/etc/pki/api.pem"},
    "sticky": True,
}


def test_generated_lines_pass_haproxy_c():
    for arch in (
        two_vip_arch(both_fronts(sticky=True)),
        two_vip_arch(TLS_ONLY),
        two_vip_arch(both_fronts(), settings={"hsts_max_age_s": 0}),
    ):
        r = haproxy_check(config(arch).encode())
        assert r.ok, r.output


def test_mixed_front_denies_and_sends_hsts_only_on_the_public_tls_side():
    api = section(config(two_vip_arch(both_fronts(sticky=True))), "listen", "api-443")
    assert (
        f"http-request deny deny_status 403 if {{ path,url_dec -m sub -i /server-status /server-info }} "
        f"{{ dst {PUBLIC} }}"
    ) in api
    assert 'http-response set-header Strict-Transport-Security "max-age=31536000" if { ssl_fc }' in api
    # A Secure cookie would never come back over the internal clear-text VIP.
    assert "cookie SERVERID insert indirect nocache httponly" in api


def test_internal_only_and_tcp_fronts_get_none_of_it():
    internal = two_vip_arch({"vip": "ivip", "port": 8080, "mode": "http", "sticky": True})
    api = section(config(internal), "listen", "api-8080")
    assert not [x for x in api if "deny" in x or "Strict-Transport" in x]
    assert "cookie SERVERID insert indirect nocache httponly" in api
    tcp = section(config(two_vip_arch({"vip": "pvip", "port": 5671, "tls_passthrough": True})), "listen", "api-5671")
    assert not [x for x in tcp if "deny" in x or "Strict-Transport" in x]


def test_hsts_age_comes_from_the_model_and_zero_turns_it_off():
    assert 'http-response set-header Strict-Transport-Security "max-age=600"' in section(
        config(two_vip_arch(TLS_ONLY, settings={"hsts_max_age_s": 600})), "listen", "api-443"
    )
    assert "Strict-Transport-Security" not in config(two_vip_arch(TLS_ONLY, settings={"hsts_max_age_s": 0}))
    with pytest.raises(HamodelError, match="hsts_max_age_s"):
        two_vip_arch(TLS_ONLY, settings={"hsts_max_age_s": -1})


def _code(ns: str, url: str, *extra: str) -> str:
    return curl(ns, "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", *extra, url).stdout


def _headers(ns: str, url: str, *extra: str) -> str:
    return curl(ns, "-D", "-", "-o", "/dev/null", *extra, url).stdout.lower()


@NEEDS_ROOT
def test_real_haproxy_denies_status_pages_on_the_public_vip_only(tmp_path: Path):
    with lab(tmp_path, two_vip_arch(both_fronts(sticky=True))) as (ns, sock):
        wait_for(lambda: (set((s := server_states(sock, "api-443")).values()) == {"UP"}, s), "backends UP")
        for path in (
            "/server-status",
            "/server-status?auto",
            "/SERVER-STATUS",
            "/%73erver-status",
            "//server-status",
            "/x/../server-status",
            "/server-info",
        ):
            assert _code(ns, f"https://{PUBLIC}{path}") == "403", path
        assert _code(ns, f"https://{PUBLIC}/v3/servers") == "200"
        # The internal VIP still reaches them (operators' monitoring).
        assert _code(ns, f"http://{INTERNAL}:443/server-status") == "200"
        public = _headers(ns, f"https://{PUBLIC}/x")
        assert "strict-transport-security: max-age=31536000" in public, public
        internal = _headers(ns, f"http://{INTERNAL}:443/x")
        assert "strict-transport-security" not in internal, internal
        cookie = [x for x in public.splitlines() if x.startswith("set-cookie: serverid=")]
        assert cookie and "httponly" in cookie[0] and "secure" not in cookie[0], public


@NEEDS_ROOT
def test_real_haproxy_sets_a_secure_cookie_on_a_tls_only_front(tmp_path: Path):
    with lab(tmp_path, two_vip_arch(TLS_ONLY)) as (ns, sock):
        wait_for(lambda: (set((s := server_states(sock, "api-443")).values()) == {"UP"}, s), "backends UP")
        head = _headers(ns, f"https://{PUBLIC}/x")
        cookie = [x for x in head.splitlines() if x.startswith("set-cookie: serverid=")]
        assert cookie and "; secure" in cookie[0] and "; httponly" in cookie[0], head
        assert "strict-transport-security: max-age=31536000" in head, head
