"""The benchmark's table and its targets, from the figures every section measured.

Each target is a measured value, a comparison and a limit: ratios between contenders measured in
the same run (passes, database size), and absolute figures for storing, matching at scale,
publishing, HTTP and memory. A target whose section did not run is reported as not measured. Under the
targets, each one missed whose cause was profiled in the same run (cold, storage, memory) gets a
short explanation of where its time or memory goes, from measured figures only.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from bench.common import median
from bench.passes import PASSES, Answers, PassRuns, Results


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    op: str  # "<=" or ">="
    limit: float
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or math.isnan(self.value):
            return None
        compare = operator.le if self.op == "<=" else operator.ge
        return bool(compare(self.value, self.limit))

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "op": self.op, "limit": self.limit, "met": self.met}


def _ratio(results: Results, top: str, bottom: str, name: str) -> float | None:
    if top not in results or bottom not in results:
        return None
    return results[top][name].median / results[bottom][name].median


def _database_ratio(results: Results) -> float | None:
    """offthewire's database against reader's after the cold pass (the same entries stored)."""
    sizes = [
        median([a.database_mb for a in results[c]["cold"].answers if a.database_mb]) if c in results else None
        for c in ("offthewire", "reader")
    ]
    mine, theirs = sizes
    return mine / theirs if mine and theirs else None


def targets(figures: dict[str, Any], results: Results) -> list[Target]:
    """Every target, measured or not."""
    storage = figures.get("storage", {}).get("with_story_matching", {})
    publish = figures.get("publish", {})
    scale = figures.get("scale", {})
    http = figures.get("http", {})
    memory = figures.get("memory", {})
    items = publish.get("items") or figures["config"]["publish_items"]
    feeds = memory.get("feeds") or figures["config"]["daemon_feeds"]
    cold = _ratio(results, "reader", "offthewire", "cold")
    return [
        Target("warm: offthewire / network limit", _ratio(results, "offthewire", "network", "warm"), "<=", 1.5, "x"),
        Target("round: reader / offthewire", _ratio(results, "reader", "offthewire", "round"), ">=", 3, "x"),
        Target("cold: reader / offthewire", cold, ">=", 2, "x"),
        Target("cold: reader / offthewire (stretch)", cold, ">=", 4, "x"),
        Target("database: offthewire / reader, same entries", _database_ratio(results), "<=", 1.5, "x"),
        Target("storage: us per new entry, matching included", storage.get("us_per_entry"), "<=", 200, " us"),
        Target(f"scale: matching, {items:,} items stored", scale.get("matching_us"), "<=", 200, " us"),
        Target(f"scale: story index loaded at a restart, {items:,} items", scale.get("load_s"), "<=", 5, " s"),
        Target(f"publish: every feed, {items:,} items stored", publish.get("publish_ms"), "<=", 50, " ms"),
        Target("HTTP: cached feed, 200s per second", http.get("200", {}).get("requests_per_s"), ">=", 3000, "/s"),
        Target("HTTP: 304s per second", http.get("304", {}).get("requests_per_s"), ">=", 5000, "/s"),
        Target(f"memory: daemon's processes (Pss), {feeds:,} feeds", memory.get("processes_pss_mb"), "<=", 150, " MB"),
    ]


def _number(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"


def farm_lines(figures: dict[str, Any]) -> list[str]:
    farm, config, machine = figures["farm"], figures["config"], figures["machine"]
    rss = farm["feeds"] - farm["atom"]
    return [
        f"offthewire benchmark ({config['mode']}): {farm['feeds']:,} feeds"
        f" ({rss:,} RSS 2.0, {farm['atom']:,} Atom 1.0),"
        f" {farm['entries']:,} entries, {farm['bytes'] / 1e6:.1f} MB ({farm['gzip_bytes'] / 1e6:.1f} MB gzipped),"
        f" {farm['syndicated'] / max(farm['entries'], 1):.0%} syndicated copies;",
        f"round: {farm['changed']:,} feeds changed. Medians of {config['runs']} run(s). {machine['cpus']} CPUs,"
        f" load average {machine['load_average_1min']:.2f} at start, {figures.get('load_after', float('nan')):.2f}"
        " at end.",
    ]


def pass_lines(results: Results, labels: dict[str, str], figures: dict[str, Any]) -> list[str]:
    if not results:
        return []
    lines = ["", f"{'Polling passes, seconds':<44}" + "".join(f"{name:>10}" for name in PASSES)]
    for contender, passes in results.items():
        lines.append(f"  {labels[contender]:<42}" + "".join(f"{passes[p].median:>10.2f}" for p in PASSES))
    if "offthewire" in results:
        cold = results["offthewire"]["cold"]
        farm = figures["farm"]
        publishing = median([a.publish_s for a in cold.answers if a.publish_s is not None])
        lines.append(
            f"  offthewire cold: {farm['entries'] / cold.median:,.0f} entries/s,"
            f" {farm['bytes'] / cold.median / 1e6:.2f} MB/s of feed; publishing took {publishing:.2f} s of it"
        )
    sizes = {
        labels[c]: median(sizes)
        for c in results
        if (sizes := [a.database_mb for a in results[c]["cold"].answers if a.database_mb])
    }
    if sizes:
        lines.append("  database after the cold pass: " + ", ".join(f"{c} {mb:,.1f} MB" for c, mb in sizes.items()))
    if "network" in results:
        for contender in (c for c in results if c != "network"):
            ratios = [results[contender][p].median / results["network"][p].median for p in PASSES]
            lines.append(f"  {labels[contender] + ' / network limit':<42}" + "".join(f"{r:>9.1f}x" for r in ratios))
    return lines


def storage_lines(figures: dict[str, Any]) -> list[str]:
    lines = []
    storage, publish, scale = figures.get("storage"), figures.get("publish"), figures.get("scale")
    if storage or publish or scale:
        lines += ["", "Storage and publishing"]
    if storage:
        on, off = storage["with_story_matching"], storage["without_headline_matching"]
        lines.append(
            f"  {'new entries, batched as a poll writes them, stories matched':<58}{on['us_per_entry']:>9,.0f} us/entry"
            f"  ({on['entries']:,} entries, {on['feeds']} feeds)"
        )
        lines.append(f"  {'the same without headline matching':<58}{off['us_per_entry']:>9,.0f} us/entry")
    if publish:
        lines.append(
            f"  publish {publish['feeds']} feeds x 3 formats, {publish['items']:,} items stored"
            f"{'':<11}{publish['publish_ms']:>8,.0f} ms  (store queries {publish['queries_ms']:,.0f} ms)"
        )
    if scale:
        lines.append(
            f"  story index of {scale['items']:,} items: {scale['window_reports']:,} reports in the window loaded in"
            f" {scale['load_s']:.1f} s at a restart ({scale.get('first_load_s', 0):.1f} s the first time, every"
            f" headline prepared); a new entry matched in {scale['matching_us']:,.0f} us"
        )
    return lines


def daemon_lines(figures: dict[str, Any]) -> list[str]:
    lines = []
    memory, http = figures.get("memory"), figures.get("http")
    if memory:
        lines += [
            "",
            "Daemon (offthewire run)",
            f"  first tick, a cold pass of {memory['feeds']:,} feeds: {memory['seconds']:.1f} s from start,"
            f" {memory['sources']['ok']:,} sources ok",
            f"  peak RSS {memory['peak_rss_mb']:.0f} MB: {memory.get('processes', 1)} processes together"
            f" {_number(memory.get('processes_rss_mb'), ' MB')} (Pss {_number(memory.get('processes_pss_mb'), ' MB')}),"
            f" the main process's high-water mark {_number(memory.get('main_process_hwm_mb'), ' MB')}",
        ]
    if http:
        lines.append(
            f"  HTTP with {http['load_generator']}, {http['connections']} connections, {http['seconds']:g} s per case,"
            f" merged feed of {http['feed_bytes']:,} bytes:"
        )
        for case, label in (("200", "200 identity"), ("200_gzip", "200 gzip"), ("304", "304")):
            row = http[case]
            lines.append(
                f"    {label:<14}{row['requests_per_s']:>10,.0f} req/s   p50 {_number(row.get('p50_ms'), ' ms')}"
                f"   p99 {_number(row.get('p99_ms'), ' ms')}"
            )
    return lines


def target_lines(found: list[Target]) -> list[str]:
    lines = ["", f"{'Targets':<48}{'measured':>12}{'target':>12}"]
    for target in found:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[target.met]
        wanted = f"{target.op} {_number(target.limit, target.unit)}"
        lines.append(f"  {target.name:<46}{_number(target.value, target.unit):>12}{wanted:>12}   {verdict}")
    return lines


def shortfall_lines(figures: dict[str, Any], results: Results, found_targets: list[Target]) -> list[str]:
    """Why each target missed was missed, for those whose profile was taken in this run: the cold
    pass's storing time, the storage stages (bench/shortfalls.py) and the daemon's processes."""
    missed: dict[str, Target] = {}  # by section, the first missed: cold's 2x before its 4x
    for target in found_targets:
        if target.met is False:
            missed.setdefault(target.name.split(":")[0], target)
    profile = figures.get("profile")
    explained: list[str] = []
    if "warm" in missed:
        explained += _warm_explanation(results, missed["warm"])
    if "cold" in missed and (cold := _cold_explanation(figures, results, missed["cold"])):
        explained += cold
        if profile and "storage" not in missed:
            explained += _stage_lines(profile)
    if "storage" in missed and profile:
        explained += _storage_explanation(profile, missed["storage"])
    if "memory" in missed and (memory := _memory_explanation(figures.get("memory", {}), missed["memory"])):
        explained += memory
    if not explained:
        return []
    return ["", "Why targets were missed (profiled in this run)", *explained]


def _missed(target: Target) -> str:
    return f"{_number(target.value, target.unit)}, target {target.op} {_number(target.limit, target.unit)}"


def _median_run(runs: PassRuns) -> tuple[float, Answers]:
    """(seconds, answers) of the run of median length."""
    run = sorted(range(len(runs.seconds)), key=runs.seconds.__getitem__)[len(runs.seconds) // 2]
    return runs.seconds[run], runs.answers[run]


def _warm_explanation(results: Results, target: Target) -> list[str]:
    """The offthewire warm run of median length: storing the 304s against fetching them."""
    warm, network = results.get("offthewire", {}).get("warm"), results.get("network", {}).get("warm")
    if warm is None or network is None or not warm.seconds:
        return []
    seconds, answers = _median_run(warm)
    if answers.store_s is None:
        return []
    answered = answers.fetched + answers.not_modified + answers.failed
    return [
        f"  warm (offthewire / network limit {_missed(target)}):",
        f"    storing the {answered:,} answers (health, validators and the next poll of each source) took"
        f" {answers.store_s:.2f} s, {answers.store_s / max(answered, 1) * 1e6:,.0f} us each, after the last fetch;",
        f"    the other {seconds - answers.store_s:.2f} s of the {seconds:.2f} s pass loaded the sources and fetched"
        f" (the network limit's whole pass: {network.median:.2f} s)",
    ]


def _cold_explanation(figures: dict[str, Any], results: Results, target: Target) -> list[str]:
    """The offthewire cold run of median length: how long storing kept its thread busy."""
    cold = results.get("offthewire", {}).get("cold")
    if cold is None or not cold.seconds:
        return []
    seconds, answers = _median_run(cold)
    if answers.store_s is None:
        return []
    entries = answers.new_entries or figures["farm"]["entries"]
    lines = [
        f"  cold (reader / offthewire {_missed(target)}):",
        f"    the thread that stores was busy {answers.store_s:.1f} s of the {seconds:.1f} s cold pass"
        f" ({answers.store_s / seconds:.0%}), {answers.store_s / max(entries, 1) * 1e6:,.0f} us per new entry;",
        "    parsing runs in the process pool alongside",
    ]
    if "reader" in results:
        reader = results["reader"]["cold"].median
        lines.append(
            f"    {target.limit:g}x needs the whole pass within {reader / target.limit:.1f} s"
            f" (reader's {reader:.1f} s / {target.limit:g}); storing alone took {answers.store_s:.1f} s"
        )
    return lines


def _storage_explanation(profile: dict[str, Any], target: Target) -> list[str]:
    floor = profile["floor_us_per_entry"]
    lines = [
        f"  storage ({_missed(target)}):",
        f"    the floor, the same rows written without headline matching: {_number(floor, ' us')} per entry",
    ]
    if target.value is not None:
        lines[-1] += f"; matching stories costs the other {_number(target.value - floor, ' us')}"
    return lines + _stage_lines(profile)


def _stage_lines(profile: dict[str, Any]) -> list[str]:
    unprofiled = profile.get("unprofiled_us_per_entry")
    lines = [
        f"    where it goes: {profile['entries']:,} entries of {profile['feeds']} feeds saved again with stage timers,"
        f" {profile['us_per_entry']:,.0f} us per entry" + (f" (untimed: {unprofiled:,.0f} us)" if unprofiled else "")
    ]
    for stage in profile["stages"].values():
        lines.append(f"      {stage['label']:<46}{stage['us_per_entry']:>9,.0f} us{stage['share']:>6.0%}")
    calls = profile.get("calls_per_entry", {})
    if "StoryIndex._candidates" in calls:
        lines.append(
            f"      per new entry: {calls['StoryIndex._candidates']:.2f} candidate lookups by key,"
            f" {calls.get('index.choose_story', 0):.2f} with candidates to compare"
        )
    return lines


def _memory_explanation(memory: dict[str, Any], target: Target) -> list[str]:
    """The daemon's processes at the highest sum, beside one interpreter with only the libraries."""
    at_peak = memory.get("at_peak")
    if not at_peak:
        return []
    by_role: dict[str, list[float]] = {}
    for process in at_peak:
        by_role.setdefault(process["role"], []).append(process["rss_mb"])
    parts = []
    for role, sizes in sorted(by_role.items(), key=lambda pair: pair[0] != "main"):
        if role == "main":
            libraries = memory.get("libraries_rss_mb")
            parts.append(f"main {sizes[0]:,.0f} MB" + (f" (libraries alone {libraries:,.0f} MB)" if libraries else ""))
        elif len(sizes) > 1:
            parts.append(f"each {role} ~{sum(sizes) / len(sizes):,.0f} MB ({len(sizes)})")
        else:
            parts.append(f"{role} {sizes[0]:,.0f} MB")
    rss, pss = sum(p["rss_mb"] for p in at_peak), sum(p["pss_mb"] for p in at_peak)
    lines = [
        f"  memory ({_missed(target)}):",
        f"    {len(at_peak)} processes: {', '.join(parts)}",
        f"    at the highest sum {rss:,.0f} MB resident; {pss:,.0f} MB with shared pages counted once (Pss)",
    ]
    hwm = memory.get("main_process_hwm_mb")
    if hwm and hwm > rss:
        lines.append(f"    the figure is the main process's own high-water mark, {hwm:,.0f} MB, between two samples")
    return lines


def render(figures: dict[str, Any], results: Results, labels: dict[str, str], problems: list[str]) -> str:
    from bench.freshness import table as freshness_table

    lines = farm_lines(figures) + pass_lines(results, labels, figures) + storage_lines(figures)
    lines += daemon_lines(figures)
    if "freshness" in figures:
        lines += ["", freshness_table(figures["freshness"])]
    found = targets(figures, results)
    lines += target_lines(found)
    if results:
        lines.append("")
        lines += [f"  answer check failed: {p}" for p in problems] or ["  every pass got the answers the farm served"]
    lines += [f"  section {name} failed: {error}" for name, error in figures.get("errors", {}).items()]
    lines += shortfall_lines(figures, results, found)
    return "\n".join(lines)
