"""Topic selectors, as Mercure's claims give them: ``*`` (every topic), a topic name (that exact topic), or
an RFC 6570 level-1 URI template whose expressions are ``{var}`` or ``{+var}``.

A template matches a topic the template could expand to, the whole topic and nothing more: ``{var}`` takes
one or more unreserved characters or percent-encoded octets (never a ``/``), ``{+var}`` also takes reserved
characters (``/``, ``?``, ``:`` ...). Read strictly, so that a selector never grants more than it shows:

- a value that decodes to ``.`` or ``..``, or holds such a path segment, does not match (``/users/{id}``
  does not match ``/users/..``; ``/files/{+path}`` does not match ``/files/a/%2e%2e/secret``);
- a ``{var}`` value whose percent-decoding holds ``/`` or ``\\`` does not match (``/users/{id}`` does not
  match ``/users/1%2Fadmin``): an encoded slash cannot smuggle in a path segment;
- the literal parts match as written (``.`` is a dot, not any character), and matching is anchored at both
  ends, so ``/users/{id}`` is no prefix of ``/users/1/private`` and the name ``/users/1`` does not match
  ``/users/10``.

Any other template syntax (``{#x}``, ``{?x}``, ``{x*}``, ``{x:3}``, ``{a,b}``, unbalanced braces) is refused
with ``InvalidValue``, never read as a literal.
"""

from __future__ import annotations

import re
from typing import List, Pattern, Tuple
from urllib.parse import unquote

from .._refusals import shown
from ..errors import InvalidType, InvalidValue

ANY: str = "*"
_UNRESERVED = r"A-Za-z0-9\-._~"
_RESERVED = r":/?#\[\]@!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_SIMPLE = rf"(?:[{_UNRESERVED}]|{_PCT})+"
_PLUS = rf"(?:[{_UNRESERVED}{_RESERVED}]|{_PCT})+"
_VARNAME = re.compile(r"(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*")
_EXPRESSION = re.compile(r"\{([^{}]*)\}")
_DOTS = {".", ".."}


class Selector:
    """One topic selector; ``matches(topic)`` says whether it covers that topic."""

    __slots__ = ("text", "_pattern", "_simple")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise InvalidType(f"a topic selector must be a str, got {type(text).__name__}: {shown(text)}")
        if not text:
            raise InvalidValue("a topic selector must not be empty")
        self.text: str = text
        self._pattern, self._simple = _compile(text)

    def matches(self, topic: str) -> bool:
        """True if this selector covers ``topic`` (compared exactly as given, never normalised)."""
        if self.text == ANY:
            return True
        if self._pattern is None:
            return topic == self.text
        found = self._pattern.fullmatch(topic)
        if found is None:
            return False
        return all(_safe(value, simple) for value, simple in zip(found.groups(), self._simple))

    def __repr__(self) -> str:
        return f"Selector({self.text!r})"


def _compile(text: str) -> Tuple["Pattern[str] | None", Tuple[bool, ...]]:
    """The anchored pattern of a template (None for ``*`` or a plain name) and, per group, whether it is a
    ``{var}`` (True) or a ``{+var}`` (False)."""
    if text == ANY or ("{" not in text and "}" not in text):
        return None, ()
    parts: List[str] = []
    simple: List[bool] = []
    at = 0
    for expression in _EXPRESSION.finditer(text):
        parts.append(_literal(text, text[at : expression.start()]))
        inner = expression.group(1)
        reserved = inner.startswith("+")
        name = inner[1:] if reserved else inner
        if not _VARNAME.fullmatch(name):
            raise InvalidValue(
                f"a topic selector's template may only hold {{var}} and {{+var}} (RFC 6570 level 1), "
                f"got {{{inner}}} in {shown(text)}"
            )
        parts.append(f"({_PLUS if reserved else _SIMPLE})")
        simple.append(not reserved)
        at = expression.end()
    parts.append(_literal(text, text[at:]))
    return re.compile("".join(parts)), tuple(simple)


def _literal(text: str, part: str) -> str:
    if "{" in part or "}" in part:
        raise InvalidValue(f"a topic selector's template has an unbalanced brace: {shown(text)}")
    return re.escape(part)


def _safe(value: str, simple: bool) -> bool:
    """False for a value that would let a template reach past what it shows (see the module's notes)."""
    decoded = unquote(value) if "%" in value else value
    if simple and ("/" in decoded or "\\" in decoded):
        return False
    return not any(segment in _DOTS for segment in re.split(r"[/\\]", decoded))


__all__ = ["ANY", "Selector"]
