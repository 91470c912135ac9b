"""A sweep's settings side by side: per model, operation and range, which settings win.

Cells of one (suite, model, operation, range) that differ only in their settings (a ``--grid``,
or runs with other flags into one database) are ranked: a higher success rate first, then the lower
median solved-at, then the shorter wall-clock. Each is named by what sets it apart from the
others of its group (``lr=0.01 batch_size=1024``), not by its whole key.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..reporting import markdown_table

GROUP = ("suite", "model", "operation", "range")


def flatten(settings: str) -> dict[str, Any]:
    """A settings key as ``name → value``: the training settings as they are, the policy's
    fields by their names, a regulariser ramp as ``ramp=λ̂:start:end``.

    Examples:
        >>> key = ('{"lr":0.01,"policy":{"name":"madsen-nmu","clip_norm":null,'
        ...        '"regularizer":{"type":"Ramp","lambda_hat":10.0,"start":20000,"end":100000}}}')
        >>> flatten(key)
        {'lr': 0.01, 'policy': 'madsen-nmu', 'clip_norm': None, 'ramp': '10:20000:100000'}
    """
    try:
        data = json.loads(settings)
    except json.JSONDecodeError:
        return {"settings": settings}
    if not isinstance(data, dict):
        return {"settings": settings}
    out = {k: v for k, v in data.items() if k != "policy"}
    policy = data.get("policy")
    if isinstance(policy, dict):
        for name, value in policy.items():
            out[_policy_name(name)] = _compact(value)
    return out


def _policy_name(name: str) -> str:
    return {"name": "policy", "regularizer": "ramp", "lr": "policy_lr"}.get(
        name, "policy_batch_size" if name == "batch_size" else name
    )


def _compact(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") == "Ramp":
        return f"{value['lambda_hat']:g}:{value['start']}:{value['end']}"
    if isinstance(value, dict):
        inner = ",".join(f"{k}={v}" for k, v in value.items() if k != "type")
        return f"{value.get('type', '')}({inner})"
    if isinstance(value, list):
        return ":".join(str(v) for v in value)
    return value


def differences(keys: Sequence[str]) -> dict[str, str]:
    """Each settings key → what sets it apart from the other ``keys`` (``"(all the same)"``
    for a key alone). A policy's own fields are named only where they differ between keys of
    the same policy name (``policy=nmu-fast`` says the rest).

    Examples:
        >>> differences(['{"lr":0.01,"steps":5}', '{"lr":0.1,"steps":5}'])
        {'{"lr":0.01,"steps":5}': 'lr=0.01', '{"lr":0.1,"steps":5}': 'lr=0.1'}
    """
    flat = {k: flatten(k) for k in keys}
    names: list[str] = []
    for values in flat.values():
        names += [n for n in values if n not in names]

    def varies(name: str, among: Sequence[dict[str, Any]]) -> bool:
        return len({repr(v.get(name, "—")) for v in among}) > 1

    policy_keys = {n for k in keys for n in _policy_keys(k)}
    by_name: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for values in flat.values():
        by_name[values.get("policy")].append(values)

    def shown(n: str) -> bool:
        if n in policy_keys and n != "policy":
            return any(varies(n, group) for group in by_name.values())
        return varies(n, list(flat.values()))

    varying = [n for n in names if shown(n)]
    if not varying:
        return {k: "(all the same)" for k in keys}
    return {
        k: " ".join(f"{n}={_show(values.get(n, '—'))}" for n in varying if n in values)
        or "(defaults)"
        for k, values in flat.items()
    }


def _policy_keys(settings: str) -> list[str]:
    """The names :func:`flatten` gives the policy's fields of one settings key."""
    try:
        policy = json.loads(settings).get("policy")
    except (json.JSONDecodeError, AttributeError):
        return []
    return [_policy_name(n) for n in policy] if isinstance(policy, dict) else []


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _ranked_row(rank: int, name: str, s: dict[str, Any]) -> list[Any]:
    steps = f"{s['steps']:,}" if s["steps"] else "—"
    solved = (num(s["solved_at_median"]), num(s["solved_at_mean"]))
    return [
        rank,
        name,
        s["settings_id"],
        steps,
        s["seeds"],
        rate(s),
        *solved,
        s["diverged"],
        wall(s),
    ]


def wall(s: dict[str, Any]) -> str:
    """The cell's wall-clock time (its seeds' seconds summed)."""
    return f"{s['seconds']:,.0f} s" if s.get("seconds") is not None else "—"


def num(value: float | None, digits: int = 2) -> str:
    """A number in a report cell: 2 significant digits, ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.1e}"


def rate(s: dict[str, Any]) -> str:
    """A success rate with its Wilson interval, in percent."""
    low, high = 100 * s["ci_low"], 100 * s["ci_high"]
    return f"{100 * s['success_rate']:.0f} % ({low:.0f}–{high:.0f})"


def rank_key(summary: dict[str, Any]) -> tuple:
    """Best first: success rate, then median solved-at, then wall-clock."""
    solved = summary["solved_at_median"]
    return (
        -summary["success_rate"],
        solved if solved is not None else float("inf"),
        summary["seconds"] or 0.0,
    )


def comparison(summaries: Sequence[dict[str, Any]]) -> str:
    """The report's "Settings compared" section ('' when no cell has rivals): the winners per
    model, operation and range, then each group's settings ranked."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for s in summaries:
        groups[tuple(s[k] for k in GROUP)].append(s)
    rivals = {g: sorted(members, key=rank_key) for g, members in groups.items() if len(members) > 1}
    if not rivals:
        return ""
    winners, sections = [], []
    for (suite, model, _op, range_), ranked in rivals.items():
        named = differences([s["settings"] for s in ranked])
        best = ranked[0]
        what = f"{suite} {model} {best['symbol']} {range_}"
        winners.append(
            [
                what,
                named[best["settings"]],
                best["seeds"],
                rate(best),
                num(best["solved_at_median"]),
                wall(best),
                len(ranked),
            ]
        )
        rows = [_ranked_row(i + 1, named[s["settings"]], s) for i, s in enumerate(ranked)]
        headers = [
            "rank",
            "settings",
            "id",
            "steps",
            "seeds",
            "success (95 % CI)",
            "solved at: median",
            "mean",
            "diverged",
            "wall-clock",
        ]
        sections.append(f"### {what}\n\n" + markdown_table(headers, rows))
    head = [
        "cell",
        "winning settings",
        "seeds",
        "success (95 % CI)",
        "solved at (median)",
        "wall-clock",
        "settings tried",
    ]
    return (
        "\n## Settings compared\n\n"
        "Cells that differ only in their settings, ranked by success rate, then median solved-at "
        "(steps), then the wall-clock time the cell took to train here. A setting is named by "
        "what sets it apart within its group. The ranking reads the extrapolation set (success "
        "and solved-at are verdicts on it): it says which setting did best on this test data, "
        "so a setting picked here has been selected on it; confirm it on held-out tasks (other "
        "ranges, input sizes, subsets) before quoting its rate as a result.\n\n"
        + markdown_table(head, winners)
        + "\n\n"
        + "\n\n".join(sections)
        + "\n"
    )
