"""What every generator shares: errors, token checks, secrets, templates and the file record.

A leaf: it imports nothing from the generators, so each generator
(:mod:`~hamodel.generators.keepalived`, :mod:`~hamodel.generators.haproxy`,
:mod:`~hamodel.generators.sysctl`, :mod:`~hamodel.generators.pacemaker`,
:mod:`~hamodel.generators.manifest`) imports it, and only the orchestrator
(:mod:`hamodel.generators.configs`) imports the generators.

Defence in depth: the model already restricts names and paths; every value
that reaches a config token is checked again here (a model built with
``model_construct``/``model_copy`` skips pydantic validation), so a value
with whitespace, a quote or a newline is refused with the object and field
named, before any file exists.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from hamodel.errors import HamodelError
from hamodel.model.base import SecretRef

# -- errors -------------------------------------------------------------------


class ConfigError(HamodelError, ValueError):
    """The deployment cannot be turned into safe, consistent configs.

    ``problems`` holds ``(where, message)`` pairs; ``where`` names the model
    object and field (``services[galera].strategy.access``) or the node file.
    """

    def __init__(self, problems: Iterable[tuple[str, str]]):
        # A hostile name may carry a newline: show it escaped, on one line.
        self.problems = sorted({(_printable(w), m) for w, m in problems})
        super().__init__("\n".join(f"{w}: {m}" if w else m for w, m in self.problems))


def _printable(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class InconsistentConfig(ConfigError):
    """The nodes' configs would disagree (VRID, peers, writer, ...)."""


# -- tokens: what a config grammar accepts unquoted ----------------------------

# The one secret alphabet (a regex character class), used where a secret is
# read (:meth:`Secrets.get`) and by the templates' ``secret`` filter, which
# calls :func:`token` too. Left out: whitespace, quotes and backslashes
# (interpreted by both tokenizers), '#' and '!' (keepalived comments), '$'
# (keepalived and HAProxy variables), braces (keepalived blocks) and ';',
# which the generic ``tok`` filter refuses as well.
SECRET_CHARS = r"A-Za-z0-9_.,:@%+=^*~/-"

_TOKENS: dict[str, re.Pattern[str]] = {
    "name": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"),
    "device": re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}"),
    "hostname": re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}"),
    "path": re.compile(r"/[A-Za-z0-9_./+-]*"),
    "http_path": re.compile(r"/[A-Za-z0-9_./?=&%-]*"),
    # VRRP PASS authentication: keepalived keeps 8 characters.
    "vrrp_secret": re.compile(rf"[{SECRET_CHARS}]{{1,8}}"),
    # HAProxy ``stats auth user:password``.
    "stats_secret": re.compile(rf"[A-Za-z0-9_.-]{{1,64}}:[{SECRET_CHARS}]{{1,128}}"),
    # Pacemaker: a fence agent parameter (XML attribute, pcs name=value word) and its password.
    "param": re.compile(r"[A-Za-z0-9_.,:@%+=/-]{1,255}"),
    "fence_secret": re.compile(rf"[{SECRET_CHARS}]{{1,128}}"),
}


def token(value: Any, kind: str, where: str) -> str:
    """Return ``value`` if it is a safe ``kind`` token, else raise ConfigError."""
    text = value if isinstance(value, str) else None
    if text is None or not _TOKENS[kind].fullmatch(text) or (kind == "path" and "/../" in text + "/"):
        if kind in _SECRET_RULES:
            # Never the value, not even its length or a character of it.
            raise ConfigError(
                [
                    (
                        where,
                        f"<secret> is not a valid {kind.replace('_', ' ')}: {_SECRET_RULES[kind]}; nothing was written",
                    )
                ]
            )
        raise ConfigError(
            [
                (
                    where,
                    f"{value!r} is not a valid {kind.replace('_', ' ')} for a config file "
                    "(whitespace, newlines, quotes and other special characters are refused); "
                    "nothing was written",
                )
            ]
        )
    return text


_SECRET_SHOWN = SECRET_CHARS.replace("A-Za-z0-9", "letters, digits and ")
_SECRET_RULES = {
    "vrrp_secret": f"use 1-8 characters of: {_SECRET_SHOWN} (keepalived keeps 8)",
    "stats_secret": f"use user:password, the user of letters, digits and _ . -, the password 1-128 "
    f"characters of: {_SECRET_SHOWN}",
    "fence_secret": f"use 1-128 characters of: {_SECRET_SHOWN}",
}


def address(value: Any, where: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Re-parse an address so that only a canonical IP reaches a config."""
    try:
        parsed = ipaddress.ip_address(str(value) if not isinstance(value, str) else value)
    except ValueError:
        raise ConfigError([(where, f"{value!r} is not an IP address; nothing was written")]) from None
    if getattr(parsed, "scope_id", None) is not None:
        # Any text may follow "%"; HAProxy would even expand "$VAR" in it.
        raise ConfigError([(where, f"{str(value)!r} has an IPv6 scope id; nothing was written")])
    return parsed


def integer(value: Any, lo: int, hi: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError([(where, f"{value!r} is not an integer in {lo}-{hi}; nothing was written")])
    return value


def comment(text: str) -> str:
    """Free text made safe for a ``#`` comment line: printable ASCII only."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)


# Generated lines stay far below every daemon's line limit (keepalived reads
# 1022 bytes of a line and parses the rest as a new line, comments too):
# long comments are wrapped at this width.
COMMENT_WIDTH = 100


def comment_block(text: str, width: int = COMMENT_WIDTH) -> str:
    """Free text as ``#`` comment lines of at most ``width`` characters.

    Wraps at spaces, continuation lines indented; a word longer than a line
    is cut, so no line is ever longer than ``width``. No trailing newline.
    """
    import textwrap

    lines = textwrap.wrap(
        comment(text), width=width - 2, subsequent_indent="  ", break_long_words=True, break_on_hyphens=False
    ) or [""]
    return "\n".join(f"# {line}".rstrip() for line in lines)


# -- secrets by reference -----------------------------------------------------


class Secrets:
    """Resolves :class:`SecretRef` at build time (environment or file).

    ``redact=True`` returns a fixed placeholder instead: used to compute the
    manifest's hash of secret-bearing files without the secret in it.
    """

    PLACEHOLDER = "REDACTED"

    def __init__(self, env: Mapping[str, str] | None = None, redact: bool = False):
        self.env = os.environ if env is None else env
        self.redact = redact

    def describe(self, ref: SecretRef) -> str:
        return f"env:{ref.env}" if ref.env else f"file:{ref.file}"

    def get(self, ref: SecretRef, kind: str, where: str) -> str:
        if self.redact:
            return self.PLACEHOLDER + (":" + self.PLACEHOLDER if kind == "stats_secret" else "")
        if ref.env:
            value = self.env.get(ref.env)
            if value is None:
                raise ConfigError(
                    [(where, f"environment variable {ref.env} is not set (secret reference); nothing was written")]
                )
        else:
            value = self._read_file(str(ref.file), where)
        return token(value, kind, f"{where} ({self.describe(ref)})")

    # A secret is a short token: reading more than this is a mistake (a
    # device, a log file), and a FIFO or device could block or never end.
    MAX_FILE_BYTES = 4096

    def _read_file(self, path: str, where: str) -> str:
        """The secret file's text without its trailing newline; errors never quote it."""

        def fail(why: str) -> ConfigError:
            return ConfigError([(where, f"cannot read secret file {path}: {why}; nothing was written")])

        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise fail(exc.strerror or "error") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise fail("not a regular file")
            data = os.read(fd, self.MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise fail(exc.strerror or "error") from None
        finally:
            os.close(fd)
        if len(data) > self.MAX_FILE_BYTES:
            raise fail(f"larger than {self.MAX_FILE_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # The decoder's own message would quote a byte of the secret.
            raise fail("not UTF-8 text") from None
        return text.rstrip("\n")


# -- templates ------------------------------------------------------------------


def _tok_filter(value: Any) -> str:
    """Last line of defence inside templates: one token, nothing else."""
    text = str(value)
    if not text or any(c.isspace() or c in "\"'\\{}#!;" for c in text) or not text.isprintable():
        raise ConfigError([("template", f"refusing to render {text!r} as a config token; nothing was written")])
    return text


def _secret_filter(value: Any, kind: str) -> str:
    """A secret inside a template: the same grammar as :meth:`Secrets.get`
    (:func:`token`), and an error never shows the value."""
    return token(value, kind, "template")


def environment(package_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(package_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # config files, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tok"] = _tok_filter
    env.filters["secret"] = _secret_filter
    env.filters["comment"] = comment
    env.filters["comment_block"] = comment_block
    return env


# -- the per-node file bundle -----------------------------------------------------


@dataclass(frozen=True)
class NodeFile:
    """One generated file on one node, with what it serves (for the manifest)."""

    node: str
    kind: str  # a key of hamodel.generators.manifest.KINDS (install metadata)
    path: str  # relative to OUT
    dest: str  # where a deploy tool installs it
    services: tuple[str, ...]
    vips: tuple[str, ...]
    data: bytes
    redacted: bytes  # same file with secrets replaced (manifest hash)
    secret: bool
    # Files on the node this one reads (keys, certificates) that hamodel does
    # not generate: the manifest lists them as prerequisites.
    references: tuple[str, ...] = ()
