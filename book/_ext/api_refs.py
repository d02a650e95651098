"""Sphinx extension for the API reference: resolve the docstrings' short references.

The package's docstrings are written to be read in Python (``help()``, an editor),
so they name their neighbours briefly: ``:func:`load_image``` inside
``cnnguide.data.folders`` means ``cnnguide.data.imagefile.load_image``. Sphinx looks a
short name up only in the current module and class. When Sphinx finds no target,
this extension looks for the documented ``cnnguide`` object whose full name ends
with the short one and links to it when there is exactly one. A name that matches
nothing, or several objects, still fails the build (``-n``).

Types written in the docstrings' ``Parameters`` and ``Attributes`` sections are
often prose ("numpy dtype", "lists of float"): a lower-case word or a phrase with
spaces that names no ``cnnguide`` object is shown as written, without a link.
Names from other libraries (NumPy, Keras...) are listed in ``nitpick_ignore_regex``
in ``_config.yml``: the build is offline, without their inventories.
"""

from __future__ import annotations

import re

from sphinx.util.nodes import make_refnode

_DOTTED_NAME = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$")


def _candidates(domain, target: str, objtypes) -> list[tuple[str, object]]:
    """Documented cnnguide objects that ``target`` can mean.

    A short name (``load_image``) matches any full name ending with it; a full
    name of a package (``cnnguide.data.load_image``, re-exported there) matches
    the object documented in one of its submodules.
    """
    package, _, last = target.rpartition(".")
    found = []
    for name, entry in domain.objects.items():
        if not name.startswith("cnnguide") or entry.aliased:
            continue
        if entry.objtype not in objtypes:
            continue
        if target.startswith("cnnguide."):
            if name == target or (
                name.startswith(package + ".") and name.endswith("." + last)
            ):
                found.append((name, entry))
        elif name == target or name.endswith("." + target):
            found.append((name, entry))
    return found


def resolve_short_names(app, env, node, contnode):
    if node.get("refdomain") != "py" or node.get("reftype") == "mod":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    objtypes = domain.objtypes_for_role(node["reftype"]) or []
    found = _candidates(domain, target, objtypes)
    if len(found) == 1:
        name, entry = found[0]
        return make_refnode(
            app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name
        )
    prose = not _DOTTED_NAME.match(target) or target[:1].islower() and "." not in target
    if not found and node["reftype"] in ("class", "obj") and prose:
        return contnode  # a type written as words: keep the words
    return None


def keep_prose_colons(app, what, name, obj, options, lines):
    """A constant's ``#:`` comment that opens with "Some words: more words" is prose.

    napoleon reads a first line ``type: text`` as the attribute's type and moves
    the words before the colon to a ``:type:`` field. When those words are a
    phrase (they hold a space), this puts them back where the comment wrote them.
    """
    if what not in ("data", "attribute"):
        return
    for i, line in enumerate(lines):
        if line.startswith(":type: ") and " " in line[len(":type: ") :].strip():
            phrase = line[len(":type: ") :].strip()
            del lines[i]
            if i > 0 and not lines[i - 1].strip():
                del lines[i - 1]
            first = next((j for j, text in enumerate(lines) if text.strip()), None)
            if first is None:
                lines.append(phrase)
            else:
                lines[first] = f"{phrase}: {lines[first].lstrip()}"
            return


def setup(app):
    app.connect("missing-reference", resolve_short_names)
    # After napoleon (priority 500) has turned the comment into fields.
    app.connect("autodoc-process-docstring", keep_prose_colons, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
