"""Turn a parsed libasterix record into plain Python values (dicts, lists, numbers, str).

libasterix gives typed accessors per edition (``rec.get_item('040').variation…``), which
is ideal when one edition is hard-wired. We pick the edition at run time, so we walk the
structure generically instead: every subitem becomes ``name -> value``, quantities in the
unit the specification states (NM, °, s, FL…), strings as text, tables and raw fields as
unsigned integers. The walk is the library's own structure, so it is right for every
edition the library knows.
"""

from __future__ import annotations

from typing import Any

from asterix.base import (
    Compound,
    ContentInteger,
    ContentQuantity,
    ContentString,
    Element,
    Explicit,
    Extended,
    Group,
    Item,
    NonSpare,
    Record,
    Repetitive,
    RuleContentContextFree,
    RuleVariationContextFree,
    Variation,
)

Value = Any  # float | int | str | dict[str, Value] | list[Value]


def element_value(var: Element) -> Value:
    """One element: a quantity (float in the spec's unit), a string, or an integer."""
    rule = var._get_rule()
    # Context-dependent contents (e.g. I062/380/IAS) fall back to their default reading.
    content = (
        rule._get_content() if isinstance(rule, RuleContentContextFree) else rule._get_content(None)  # type: ignore[attr-defined]
    )
    if isinstance(content, ContentQuantity):
        return float(content._as_quantity())
    if isinstance(content, ContentString):
        return content.as_string()
    if isinstance(content, ContentInteger):
        return content.as_integer()
    return content.as_uint()


def variation_value(var: Variation) -> Value:
    """Any variation, recursively: groups and extended items flatten to one dict."""
    if isinstance(var, Element):
        return element_value(var)
    if isinstance(var, Group):
        return {i.arg.cv_name: nonspare_value(i.arg) for i in var.arg if isinstance(i, Item)}
    if isinstance(var, Extended):
        return {
            i.arg.cv_name: nonspare_value(i.arg)
            for part in var.arg
            for i in part
            if isinstance(i, Item)
        }
    if isinstance(var, Repetitive):
        return [variation_value(v) for v in var.arg]
    if isinstance(var, Compound):
        return {name: nonspare_value(nsp) for name, nsp in var.arg.items()}
    if isinstance(var, Explicit):
        return var.get_bytes().hex().upper()
    raise TypeError(f"unsupported ASTERIX variation {type(var).__name__}")


def nonspare_value(nsp: NonSpare) -> Value:
    """A named (sub)item; context-dependent variations use the default structure."""
    rule = nsp.arg
    if isinstance(rule, RuleVariationContextFree):
        return variation_value(rule.arg)
    var = rule._variation(None)  # type: ignore[attr-defined]
    if isinstance(var, ValueError):
        return rule.unparse().to_bytes().hex().upper()
    return variation_value(var)


def record_values(rec: Record) -> dict[str, Value]:
    """All regular items of a record, keyed by item number (``"040"``)."""
    return {name: nonspare_value(nsp) for name, nsp in rec.items_regular.items()}
