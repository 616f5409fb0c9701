"""``heed check`` output: one stable JSON object per URL, and a readable table.

The JSON shape is a contract with site owners' scripts and is documented field by field in
docs/check.md; :data:`FORMAT` names its version. Fields are only ever added, never renamed.
Signal entries are the engine's own evidence (``SignalResult.as_dict``) plus ``effective``
(whether the signal speaks to the run's purpose), so the check shows exactly what a crawl
records in its ``evidence`` column.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

import filters
from filters import Purpose
from filters.engine import SIGNAL_PURPOSES

from ..config import RunConfig
from .explain import Explanation
from .offline import Substitutes
from .run import CheckResult

__all__ = ["FORMAT", "render_json", "render_table", "result_json", "summary_json"]

#: The version of the JSON format; bumped only if a field ever changes meaning.
FORMAT = "heed-check/1"

_WIDTH = 100
_ALL = frozenset(Purpose)


def result_json(
    result: CheckResult, cfg: RunConfig, explanation: Explanation | None = None
) -> dict[str, Any]:
    """The documented JSON object for one checked URL."""
    decision = result.decision
    signals = []
    for item in decision.evidence:
        entry = item.as_dict()
        entry["effective"] = cfg.purpose in SIGNAL_PURPOSES.get(item.signal, _ALL)
        signals.append(entry)
    lic = decision.license
    out: dict[str, Any] = {
        "url": result.url,
        "final_url": result.final_url,
        "allowed": decision.allowed,
        "verdict": "kept" if decision.allowed else "excluded",
        "stage": decision.stage.value,
        "reasons": [r.value for r in decision.reasons],
        "http_status": result.http_status,
        "redirects": list(result.redirects),
        "license": {
            "id": lic.license,
            "url": lic.url,
            "source": lic.source,
            "conflict": lic.conflict,
            "candidates": [{"id": c[0], "url": c[1], "source": c[2]} for c in lic.candidates],
        },
        "crawl_delay": decision.crawl_delay,
        "signals": signals,
        "notes": list(result.notes),
    }
    if explanation is not None:
        out["explain"] = explanation.as_dict()
    return out


def summary_json(
    results: Sequence[CheckResult], cfg: RunConfig, subs: Substitutes, fetched: int
) -> dict[str, Any]:
    """Counts and the policy the check ran under."""
    by_reason: Counter[str] = Counter(r.value for res in results for r in res.decision.reasons)
    kept = sum(1 for r in results if r.decision.allowed)
    return {
        "format": FORMAT,
        "engine_version": filters.__version__,
        "checked": len(results),
        "kept": kept,
        "excluded": len(results) - kept,
        "by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        "purpose": cfg.purpose.value,
        "mode": cfg.mode.value,
        "product_token": cfg.product_token,
        "user_agent": cfg.user_agent,
        "ai_agents": list(cfg.ai_agents),
        "config": cfg.source,
        "site_documents_fetched": fetched,
        "offline": {"fetch_nothing": subs.offline, "files": subs.named()},
    }


def render_json(
    results: Sequence[CheckResult],
    cfg: RunConfig,
    subs: Substitutes,
    fetched: int,
    explanations: Sequence[Explanation | None],
) -> str:
    """``{"results": [...], "summary": {...}}``, printed once per run."""
    payload = {
        "results": [result_json(r, cfg, e) for r, e in zip(results, explanations, strict=True)],
        "summary": summary_json(results, cfg, subs, fetched),
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- table


def _cell(value: object, width: int) -> str:
    text = "-" if value in (None, "") else str(value).replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _where(item: dict[str, Any]) -> str:
    source = item.get("source") or ""
    doc = item.get("document") or {}
    status = doc.get("status") if isinstance(doc, dict) else None
    error = doc.get("error") if isinstance(doc, dict) else None
    if status is not None:
        return f"{source} [{status}]"
    if error:
        return f"{source} [{error}]"
    return str(source)


def _signal_rows(obj: dict[str, Any]) -> list[str]:
    header = f"    {'signal':<16} {'verdict':<7} {'reasons':<24} {'evidence (where: value)'}"
    rows = [header]
    for item in obj["signals"]:
        mark = "" if item["effective"] else " (not for this purpose)"
        reasons = ",".join(item["reasons"]) or "-"
        value = item["raw"] or ""
        if item["detail"]:
            value = f"{value} ({item['detail']})" if value else f"({item['detail']})"
        evidence = f"{_where(item)}: {_cell(value, 60)}" if value else _where(item) or "-"
        rows.append(
            f"    {_cell(item['signal'], 16):<16} {item['verdict']:<7} "
            f"{_cell(reasons, 24):<24} {evidence}{mark}"
        )
    return rows


def _explain_rows(explanation: dict[str, Any]) -> list[str]:
    title = "to be kept:" if explanation["goal"] == "keep" else "to opt out:"
    rows = [f"  {title}"]
    for advice in explanation["advice"]:
        prefix = f"[{advice['reason']}] " if advice["reason"] else ""
        wrapped = textwrap.wrap(prefix + advice["text"], _WIDTH - 6)
        rows.extend(("    - " if i == 0 else "      ") + line for i, line in enumerate(wrapped))
        for example in advice["examples"]:
            rows.append(f"      {example['where']}:")
            rows.extend(f"        {line}" for line in example["snippet"].splitlines())
    return rows


def _result_rows(obj: dict[str, Any]) -> list[str]:
    verdict = obj["verdict"].upper()
    rows = [f"{obj['url']}", f"  verdict      {verdict} at {obj['stage']}"]
    if obj["reasons"]:
        rows.append(f"  reasons      {', '.join(obj['reasons'])}")
    if obj["final_url"] != obj["url"]:
        rows.append(f"  final URL    {obj['final_url']}")
    if obj["http_status"] is not None:
        rows.append(f"  HTTP status  {obj['http_status']}")
    lic = obj["license"]
    if lic["id"]:
        conflict = " (conflicting declarations)" if lic["conflict"] else ""
        rows.append(f"  licence      {lic['id']} from {lic['source']}: {lic['url']}{conflict}")
    else:
        rows.append("  licence      none declared")
    delay = obj["crawl_delay"]
    rows.append(f"  crawl-delay  {'none' if delay is None else f'{delay:g} s'}")
    rows.append("  signals consulted:")
    rows.extend(_signal_rows(obj))
    rows.extend(f"  note: {n}" for n in obj["notes"])
    if "explain" in obj:
        rows.extend(_explain_rows(obj["explain"]))
    return rows


def render_table(
    results: Sequence[CheckResult],
    cfg: RunConfig,
    subs: Substitutes,
    fetched: int,
    explanations: Sequence[Explanation | None],
) -> str:
    """The human-readable report: one block per URL, then the totals."""
    lines: list[str] = []
    for result, explanation in zip(results, explanations, strict=True):
        lines.extend(_result_rows(result_json(result, cfg, explanation)))
        lines.append("")
    summary = summary_json(results, cfg, subs, fetched)
    lines.append(
        f"{summary['checked']} checked: {summary['kept']} kept, {summary['excluded']} excluded"
        f"  (purpose {summary['purpose']}, mode {summary['mode']}, "
        f"as {summary['product_token']})"
    )
    lines.extend(f"  {n:>5}  {reason}" for reason, n in summary["by_reason"].items())
    if subs.active:
        files = ", ".join(f"--{k} {v}" for k, v in summary["offline"]["files"].items() if v)
        lines.append(
            "offline: " + (files or "no files") + ("; nothing fetched" if subs.offline else "")
        )
    return "\n".join(lines)
