"""Sphinx extension: the API reference of the declared public surface, package by package.

A name is public when it is reachable without an underscore: it is listed in the ``__all__`` of a
package whose dotted path has no component starting with ``_``. The directive

    ```{public-api}
    lammps_quests
    ```

imports the package named in its body and each of its public subpackages (found by walking the
package, so a package added or renamed needs no edit here), and for every one that declares
``__all__`` documents every name of its ``__all__`` with autodoc
(functions and classes with their signatures and docstrings, constants with their values). It
never names a module file, so moving a module behind a package changes nothing here. An object
exported by several packages is documented once, at its first package, and listed at the others
with a link to it. References that autodoc writes with an object's defining module
(``lammps_quests.formats._reference.Reference``) are resolved to the public name of the same
object; a reference to an object that no package exports stays unresolved and fails a nitpicky
build, since the public signature then shows a type the reader cannot look up.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

#: objects documented so far in this build: id -> public dotted name
_DOCUMENTED: dict[int, str] = {}
#: public dotted name of every documented object, by its short name (for bare references)
_BY_SHORT_NAME: dict[str, set[str]] = {}


def _is_click_command(obj) -> bool:
    try:
        import click
    except ImportError:
        return False
    return isinstance(obj, click.Command)


def _is_shared_value(obj) -> bool:
    """Functions, classes and containers are one object wherever exported; numbers and strings
    may be the same interned object under unrelated names, so they are never deduplicated."""
    return not isinstance(obj, (int, float, str, bytes, bool, type(None)))


def _python_modules(module):
    """The Python modules and packages under a package; the LAMMPS plugin's shared libraries
    (``questsfix.so``, loaded by LAMMPS, not by Python) and ``__main__`` (which runs the
    command) are skipped."""
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{module.__name__}."):
        if info.name.endswith(".__main__"):
            continue
        spec = info.module_finder.find_spec(info.name.rsplit(".", 1)[1], None)
        if spec is not None and (spec.origin or "").endswith(".py"):
            yield info


def public_packages(root: str) -> list[str]:
    """``root`` and its packages and modules without an underscore in their path that declare
    ``__all__``: packages first, then modules, each in import-path order."""
    module = importlib.import_module(root)
    packages, modules = ([root] if hasattr(module, "__all__") else []), []
    for info in _python_modules(module):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if hasattr(importlib.import_module(info.name), "__all__"):
            (packages if info.ispkg else modules).append(info.name)
    return packages + modules


def _all_names(root: str) -> set[str]:
    """Every module path, module name and top-level name defined anywhere under ``root``, the
    internal modules included: a reference to one of them is to code that exists."""
    names = {root}
    module = importlib.import_module(root)
    for info in _python_modules(module):
        names.add(info.name)
        names.add(info.name.rsplit(".", 1)[1])
        names.update(vars(importlib.import_module(info.name)))
    return names


def _entry(package: str, name: str, obj) -> list[str]:
    target = f"{package}.{name}"
    if _is_click_command(obj):
        return [f"``{name}``: the ``lammps-quests`` command, documented in :doc:`/cli`.", ""]
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return [f".. autoexception:: {target}", "   :members:", "   :show-inheritance:", ""]
    if inspect.isclass(obj):
        return [f".. autoclass:: {target}", "   :members:", ""]
    if callable(obj) and not inspect.ismodule(obj):
        return [f".. autofunction:: {target}", ""]
    return [f".. autodata:: {target}", ""]


def package_rst(package: str) -> list[str]:
    """reStructuredText documenting one public package: its docstring, then its ``__all__``."""
    module = importlib.import_module(package)
    names = module.__all__
    title = f"``{package}``"
    lines = [title, "-" * len(title), "", f".. automodule:: {package}", "   :no-members:", ""]
    shared = []
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        first = _DOCUMENTED.get(id(obj)) if _is_shared_value(obj) else None
        if first is not None:
            shared.append(f"* ``{name}``: :py:obj:`{first}`")
            continue
        if _is_shared_value(obj):
            _DOCUMENTED[id(obj)] = f"{package}.{name}"
        _BY_SHORT_NAME.setdefault(name, set()).add(f"{package}.{name}")
        lines += _entry(package, name, obj)
    if shared:
        lines += [f"Also exported by ``{package}``, documented above:", ""] + shared + [""]
    return lines


class PublicApi(SphinxDirective):
    """``public-api``: one section per public package under each root named in the body."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        _DOCUMENTED.clear()
        _BY_SHORT_NAME.clear()
        lines: list[str] = []
        for root in (line.strip() for line in self.content):
            for package in public_packages(root) if root else []:
                lines += package_rst(package)
        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=self.get_source_info()[0]), container)
        return container.children


_MISSING = object()


def _resolve(parts: list[str], longest: int):
    """The object ``parts`` names: the longest importable module prefix (at most ``longest``
    parts), then attributes; ``_MISSING`` if there is none."""
    for cut in range(longest, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return _MISSING
        return obj
    return _MISSING


def _public_name(target: str) -> str | None:
    """The public name of the object a dotted or bare reference points at, if it is documented."""
    if target in _BY_SHORT_NAME and len(_BY_SHORT_NAME[target]) == 1:
        return next(iter(_BY_SHORT_NAME[target]))
    parts = target.split(".")
    if parts[0] != "lammps_quests":
        return None
    obj = _resolve(parts, longest=len(parts) - 1)
    return _DOCUMENTED.get(id(obj)) if obj is not _MISSING and _is_shared_value(obj) else None


def _exists(target: str, names: set[str]) -> bool:
    """Whether a dotted or bare reference names code of the package (public or internal)."""
    parts = target.lstrip("~.").split(".")
    if parts[0] == "lammps_quests":
        return _resolve(parts, longest=len(parts)) is not _MISSING
    return parts[0] in names


def resolve_public(app, env, node, contnode):
    """missing-reference: link a reference by defining module (or bare name) to the public name
    of the same object; show a reference to existing internal code as plain code text. A name
    that exists nowhere in the package stays unresolved, and fails a nitpicky build."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    public = _public_name(target)
    if public is not None and public != target:
        domain = env.get_domain("py")
        for role in ("class", "exc", "func", "data", "obj", "meth", "attr"):
            resolved = domain.resolve_xref(env, node["refdoc"], app.builder, role, public, node, contnode)
            if resolved is not None:
                return resolved
    if not hasattr(app, "_lammps_quests_names"):
        app._lammps_quests_names = _all_names("lammps_quests")
    return contnode if _exists(target, app._lammps_quests_names) else None


def _google_docstrings_except_properties(napoleon_handler):
    """napoleon reads a property's first ``words: text`` as a return type and links the words;
    the package's property docstrings are one plain sentence, so they skip napoleon."""

    def handler(app, what, name, obj, options, lines):
        if what in ("property", "attribute"):
            return None
        return napoleon_handler(app, what, name, obj, options, lines)

    return handler


def setup(app):
    app.setup_extension("sphinx.ext.napoleon")
    listeners = app.events.listeners["autodoc-process-docstring"]
    for listener in list(listeners):
        if getattr(listener.handler, "__module__", "") == "sphinx.ext.napoleon":
            app.disconnect(listener.id)
            app.connect("autodoc-process-docstring", _google_docstrings_except_properties(listener.handler),
                        priority=listener.priority)
    app.add_directive("public-api", PublicApi)
    app.connect("missing-reference", resolve_public)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
