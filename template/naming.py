"""The template's renaming rule: every spelling of the template's name becomes the service's own.

Copier renders every file of this repository (``copier.yml`` sets an empty templates
suffix), and this extension's ``preprocess`` swaps each spelling of "herald" for the same
spelling of the answer ``service_slug`` before Jinja reads the file. So the repository stays
a runnable, tested Herald with no Jinja markup in it, and a generated service is renamed
everywhere by one rule that ``copier update`` applies alike to the template's old and new
commits: an update carries only what the template changed.

The spelling follows the name's neighbours:

* ``HERALD`` (environment variables, constants): ``ACME_NOTIFY``;
* ``Herald`` inside an identifier (``HeraldStream``): ``AcmeNotify``; as a word: ``Acme Notify``;
* ``herald`` followed by a capital (``heraldSource``): ``acmeNotify``;
* ``herald`` inside an identifier (``herald_stream``) or a variable (``$herald``): ``acme_notify``;
* ``herald`` as a word (the CLI, paths, the package, compose's service): ``acme-notify`` —
  which is why no Python name of the template is the bare word (tests/template checks it).

A line holding ``template-credit`` keeps the template's name: it credits the template.
"""

import re
from collections.abc import Callable

from jinja2 import Environment
from jinja2.ext import Extension

CREDIT_MARKER = "template-credit"

_SPELLINGS = re.compile(r"HERALD|Herald|herald")
_IDENTIFIER_CHARACTER = re.compile(r"[A-Za-z0-9_]")


def _words(slug: str) -> list[str]:
    return slug.split("-")


def snake(slug: str) -> str:
    return "_".join(_words(slug))


def constant(slug: str) -> str:
    return snake(slug).upper()


def pascal(slug: str) -> str:
    return "".join(word.capitalize() for word in _words(slug))


def camel(slug: str) -> str:
    first, *rest = _words(slug)
    return first + pascal("-".join(rest)) if rest else first


def title(slug: str) -> str:
    return " ".join(word.capitalize() for word in _words(slug))


def kebab(slug: str) -> str:
    return slug


#: Each spelling, by the name of the Jinja filter that writes it from the slug.
SPELLINGS: dict[str, Callable[[str], str]] = {
    "constant": constant,
    "pascal": pascal,
    "title": title,
    "camel": camel,
    "snake": snake,
    "kebab": kebab,
}


def spelling(text: str, start: int, end: int) -> str:
    """The spelling the name found at ``text[start:end]`` needs, by its neighbours."""
    found, before, after = text[start:end], text[start - 1 : start], text[end : end + 1]
    joined = bool(_IDENTIFIER_CHARACTER.fullmatch(before) or _IDENTIFIER_CHARACTER.fullmatch(after)) or before == "$"
    if found == "HERALD":
        return "constant"
    if found == "Herald":
        return "pascal" if joined else "title"
    if after.isupper():
        return "camel"
    return "snake" if joined else "kebab"


def rename(source: str, write: Callable[[str], str]) -> str:
    """``source`` with each spelling of the template's name replaced by ``write(spelling)``."""
    return "".join(_rename_line(line, write) for line in source.splitlines(keepends=True))


def _rename_line(line: str, write: Callable[[str], str]) -> str:
    if CREDIT_MARKER in line:
        return line
    return _SPELLINGS.sub(lambda found: write(spelling(line, found.start(), found.end())), line)


class RenameService(Extension):
    """Copier's side of the rule: each spelling becomes a Jinja expression of ``service_slug``."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(SPELLINGS)

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        start, end = self.environment.variable_start_string, self.environment.variable_end_string
        return rename(source, lambda spelling: f"{start} service_slug | {spelling} {end}")
