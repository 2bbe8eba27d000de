"""The `offthewire` command: each command is a docstring and one call into the Aggregator.

`main()` is the one place that turns errors into a plain sentence on stderr and an exit code
(2: bad config or argument, 1: not found or already subscribed); `-v` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from aggregator import __version__
from aggregator.config import Settings, find_config_file, load_settings, with_database_url
from aggregator.core import Aggregator, make_aggregator, utc_now
from aggregator.exceptions import AggregatorError, ConfigError, StorageError
from aggregator.opml import OpmlFeed
from aggregator.types import RIGHTS_MODES, FetchResult, Item, PollSummary, Source, Topic

if TYPE_CHECKING:
    from aggregator.daemon import Daemon

log = logging.getLogger("aggregator")
RIGHTS_HELP = "how much of its text the feeds carry: full (default), summary (300 characters of plain text) or title"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.ERROR
    logging.basicConfig(level=logging.CRITICAL if args.quiet else level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except AggregatorError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"offthewire: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (`| head`) went away; that is not an error worth a traceback.
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offthewire",
        description="Poll news-wire feeds, merge their stories, republish them as Atom feeds.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="config file (default: $OFFTHEWIRE_CONFIG, else ./offthewire.toml)"
    )
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="count", default=0, help="log progress; twice for debugging")
    noise.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.add_argument("--version", action="version", version=f"offthewire {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int | None]) -> argparse.ArgumentParser:
        doc = (handler.__doc__ or "").strip()
        sub = commands.add_parser(name, help=doc.splitlines()[0], description=doc)
        sub.set_defaults(handler=handler)
        return sub

    add = command("add", cmd_add)
    add.add_argument("url", metavar="URL")
    add.add_argument("--name", help="the name shown for this source (default: the feed's title)")
    add.add_argument(
        "--topic", action="append", default=[], metavar="SLUG", help="put every item in this topic; repeatable"
    )
    add.add_argument("--every", type=_positive, metavar="MINUTES", help="minutes between polls (default: [poll] every)")
    add.add_argument("--rights", choices=RIGHTS_MODES, default="full", help=RIGHTS_HELP)
    add.add_argument("--test", action="store_true", help="fetch the feed once and report, without subscribing")

    remove = command("remove", cmd_remove)
    remove.add_argument("source", metavar="URL_OR_ID")
    remove.add_argument("--keep-items", action="store_true", help="keep the source's items in the database and feeds")

    command("list", cmd_list).add_argument("--json", action="store_true", help="print JSON")

    poll = command("poll", cmd_poll)
    poll.add_argument("sources", nargs="*", metavar="URL_OR_ID")
    poll.add_argument("--all", action="store_true", help="poll every source, due or not")
    poll.add_argument("--json", action="store_true", help="print JSON")

    command("publish", cmd_publish)

    migrate = command("migrate", cmd_migrate)
    migrate.add_argument("--to", required=True, metavar="URL", help="an empty PostgreSQL database: postgresql://...")
    migrate.add_argument("--json", action="store_true", help="print JSON")

    items = command("items", cmd_items)
    items.add_argument("--topic", metavar="SLUG")
    items.add_argument("--source", metavar="URL_OR_ID")
    items.add_argument(
        "--search",
        metavar="QUERY",
        help='full-text search, best match first: words, "a phrase", prefix*, AND / OR / NOT',
    )
    items.add_argument("--limit", type=_positive, default=30, metavar="N")
    items.add_argument("--json", action="store_true", help="print JSON")

    topics = command("topics", cmd_topics)
    topics.add_argument("action", nargs="?", choices=["test"], help='"test": which topics a headline would join')
    topics.add_argument("headline", nargs="?", metavar="HEADLINE")
    topics.add_argument("--summary", default="", help="with test: the item's summary text")
    topics.add_argument("--source", metavar="URL_OR_ID", help="with test: the source it comes from")
    topics.add_argument("--category", action="append", default=[], help="with test: a feed category; repeatable")
    topics.add_argument("--language", help="with test: its language code (en, zh-CN, ...)")
    topics.add_argument("--json", action="store_true", help="print JSON")

    explain = command("explain", cmd_explain)
    explain.add_argument("source", metavar="URL_OR_ID")
    explain.add_argument("--json", action="store_true", help="print JSON")

    stories = command("stories", cmd_stories)
    stories.add_argument("--topic", metavar="SLUG")
    stories.add_argument("--limit", type=_positive, default=20, metavar="N")
    stories.add_argument("--json", action="store_true", help="print JSON")

    why = command("why", cmd_why)
    why.add_argument("first", type=int, metavar="ITEM_A")
    why.add_argument("second", type=int, metavar="ITEM_B")
    why.add_argument("--json", action="store_true", help="print JSON")

    rights = command("rights", cmd_rights)
    rights.add_argument("source", metavar="URL_OR_ID")
    rights.add_argument("mode", choices=RIGHTS_MODES, help=RIGHTS_HELP)

    for name, handler in (("pause", cmd_pause), ("resume", cmd_resume)):
        command(name, handler).add_argument("source", metavar="URL_OR_ID")

    command("import-opml", cmd_import_opml).add_argument("file", type=Path, metavar="FILE")
    export = command("export-opml", cmd_export_opml)
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here instead of to stdout")

    command("prune", cmd_prune)

    command("run", cmd_run)

    demo = command("demo", cmd_demo)
    demo.add_argument("--dir", type=Path, metavar="FOLDER", help="scratch folder (default: a new temporary folder)")
    demo.add_argument("--port", type=int, default=8080, help="port to serve on (a free one if taken; default 8080)")
    demo.add_argument("--once", action="store_true", help="poll and publish once, then exit instead of serving")
    return parser


def _positive(text: str) -> int:
    """An argparse type: a whole number above zero (argparse turns the error into exit 2)."""
    if not text.strip().isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return int(text)


# Commands


def cmd_add(args: argparse.Namespace) -> int:
    """Subscribe to a feed URL (no network needed); prints the new source's id. With --test, fetch it
    once and report what was found, without subscribing."""
    if args.test:
        return _add_test(args)
    with _aggregator(args) as aggregator:
        source = aggregator.add_source(
            args.url, name=args.name, topics=args.topic, every_minutes=args.every, rights=args.rights
        )
    print(f"Added source {source.id}: {source.url}")
    return 0


def _add_test(args: argparse.Namespace) -> int:
    with _aggregator(args) as aggregator:
        check = aggregator.try_feed(args.url)
    fetch, parsed = check.fetch, check.parsed
    print(f"URL:         {fetch.url}" + (f" (redirected to {fetch.final_url})" if fetch.final_url != fetch.url else ""))
    print(f"Status:      {fetch.status if fetch.status is not None else 'no response'} in {fetch.elapsed:.2f} s")
    if parsed:
        meta = parsed.meta
        print(f"Format:      {meta.version or 'unknown'}")
        print(f"Title:       {meta.title or '(none)'}")
        print(f"Entries:     {len(parsed.entries)}")
        hints = meta.hints
        shown = [
            f"ttl {hints.ttl_minutes} min" if hints.ttl_minutes else "",
            f"sy:updatePeriod {hints.update_minutes:g} min" if hints.update_minutes else "",
            f"skipHours {sorted(hints.skip_hours)}" if hints.skip_hours else "",
            f"skipDays {sorted(hints.skip_days)}" if hints.skip_days else "",
            f"Cache-Control {fetch.headers['cache-control']}" if "cache-control" in fetch.headers else "",
        ]
        print(f"Hints:       {', '.join(h for h in shown if h) or 'none'}")
        if parsed.warning:
            print(f"Warning:     {parsed.warning}")
    print(f"Validators:  ETag {_printable(fetch.etag) or '(none)'}; Last-Modified {fetch.last_modified or '(none)'}")
    if check.error:
        print(f"Error:       {check.error}")
    print(f"Next poll:   in {_span(check.decision.interval.total_seconds())}, because {check.decision.reason}")
    print("Not subscribed; `offthewire add URL` subscribes.")
    return 1 if check.error else 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Unsubscribe; its items leave the outputs at the next publish unless --keep-items."""
    with _aggregator(args) as aggregator:
        source, deleted = aggregator.remove_source(args.source, keep_items=args.keep_items)
    kept = "its items are kept" if args.keep_items else f"{deleted} items deleted"
    print(f"Removed source {source.id}: {source.url} ({kept}).")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the sources with their health: last status, last error, item count, next poll."""
    with _aggregator(args) as aggregator:
        sources = aggregator.sources()
    if args.json:
        _print_json([_source_json(s) for s in sources])
        return 0
    if not sources:
        print("No sources yet. Add one with: offthewire add URL")
        return 0
    now = utc_now()
    rows = [
        [
            str(s.id),
            _clip(s.display_name, 32),
            _health(s),
            str(s.item_count),
            _ago(s.last_fetched_at, now),
            "paused" if not s.enabled else _until(s.next_fetch_at, now),
            ",".join(s.topics) or "-",
            s.url,
        ]
        for s in sources
    ]
    _print_table(["ID", "NAME", "HEALTH", "ITEMS", "LAST POLL", "NEXT", "TOPICS", "URL"], rows)
    for s in sources:
        if s.last_error:
            print(f"  {s.id}: {s.last_error}")
        elif s.last_warning:
            print(f"  {s.id}: warning: {s.last_warning}")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    """Fetch the due sources (or --all, or those named) once, store, publish, print a summary."""
    with _aggregator(args) as aggregator:
        total = len(aggregator.sources())
        progress = _Progress(total, sys.stderr) if not args.json and not args.quiet else None
        summary = aggregator.poll(args.sources, every_source=args.all, on_result=progress.step if progress else None)
        if progress:
            progress.done()
    if args.json:
        _print_json(_summary_json(summary))
    elif not args.quiet:
        _print_summary(summary)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Rewrite every output feed from the database (files are only replaced when they changed)."""
    with _aggregator(args) as aggregator:
        changed = aggregator.publish()
        files = aggregator.output_files()
    print(f"Published {len(files)} feeds in {aggregator.settings.output.dir}/ ({len(changed)} changed).")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the SQLite database into PostgreSQL: every source, item, story, topic, tombstone and
    validator, with their ids, into an empty database at URL; then compare the counts (exit 1 when
    one differs)."""
    from aggregator.store import Store
    from aggregator.store.copy import copy_database, rows_to_copy
    from aggregator.store.postgresql import redacted

    if not args.to.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"--to must be a postgresql:// URL, not {args.to!r}.")
    path = load_settings(find_config_file(args.config, os.environ)).storage.path
    if not path.is_file():
        raise StorageError(f"There is no SQLite database at {path} to migrate.")
    source = Store(path)
    try:
        target = Store(args.to)
        try:
            progress = _Progress(rows_to_copy(source), sys.stderr) if not args.quiet else None
            counts = copy_database(source, target, on_rows=progress.advance if progress else None)
            if progress:
                progress.done()
        finally:
            target.close()
    finally:
        source.close()
    differ = [count for count in counts if not count.matches]
    if args.json:
        _print_json([{"table": c.table, "sqlite": c.source, "postgresql": c.target} for c in counts])
    else:
        rows = [[c.table, str(c.source), str(c.target), "ok" if c.matches else "DIFFERS"] for c in counts]
        _print_table(["TABLE", "SQLITE", "POSTGRESQL", ""], rows)
        if differ:
            print(f"\n{len(differ)} tables differ after the copy: {', '.join(c.table for c in differ)}.")
        else:
            print(f'\nCopied {path} into {redacted(args.to)}. To use it: [storage] url = "{redacted(args.to)}"')
    return 1 if differ else 0


def cmd_items(args: argparse.Namespace) -> int:
    """The "Off the wire" ticker: newest items first, as HH:MM  Source  Headline; with --search, the
    items matching a full-text query, best match first."""
    with _aggregator(args) as aggregator:
        if args.search is not None:
            items = aggregator.search(args.search, topic=args.topic, source=args.source, limit=args.limit)
        else:
            items = aggregator.items(topic=args.topic, source=args.source, limit=args.limit)
    if args.json:
        _print_json([_item_json(i) for i in items])
        return 0
    if not items:
        print(
            f"No items match {args.search!r}."
            if args.search is not None
            else "No items yet. Poll the sources with: offthewire poll"
        )
        return 0
    if args.search is not None:
        _print_matches(items)
        return 0
    _print_ticker(items)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    """List the topics with their rules and item counts; `topics test "HEADLINE"` shows which topics
    a headline would join, and why."""
    if args.action == "test":
        return _topics_test(args)
    with _aggregator(args) as aggregator:
        topics = aggregator.topics()
    if args.json:
        _print_json(
            [
                {
                    "slug": t.topic.slug,
                    "title": t.topic.title,
                    "keywords": list(t.topic.keywords),
                    "patterns": list(t.topic.patterns),
                    "exclude": list(t.topic.exclude),
                    "sources": list(t.topic.sources),
                    "categories": list(t.topic.categories),
                    "languages": list(t.topic.languages),
                    "item_count": t.item_count,
                    "configured": t.configured,
                }
                for t in topics
            ]
        )
        return 0
    if not topics:
        print("No topics yet. Add [[topics]] to the config, or `add --topic SLUG` to a source.")
        return 0
    rows = [[t.topic.slug, t.topic.title, str(t.item_count), _rules_text(t.topic, t.configured)] for t in topics]
    _print_table(["SLUG", "TITLE", "ITEMS", "RULES"], rows)
    return 0


def _rules_text(topic: Topic, configured: bool) -> str:
    if not configured:
        return "(named by sources)"
    parts = [
        f"{name}: {', '.join(values)}"
        for name, values in (
            ("keywords", topic.keywords),
            ("patterns", topic.patterns),
            ("exclude", topic.exclude),
            ("sources", topic.sources),
            ("categories", topic.categories),
            ("languages", topic.languages),
        )
        if values
    ]
    return "; ".join(parts) or "-"


def _topics_test(args: argparse.Namespace) -> int:
    if not args.headline:
        raise ConfigError('topics test needs a headline: offthewire topics test "Headline text".')
    with _aggregator(args) as aggregator:
        verdicts = aggregator.test_topics(
            args.headline, args.summary, source=args.source, categories=args.category, language=args.language
        )
    if args.json:
        _print_json([{"topic": v.slug, "joins": v.joined, "reason": v.reason} for v in verdicts])
        return 0
    joined = [v.slug for v in verdicts if v.joined]
    print(f"Joins: {', '.join(joined) if joined else 'no topic'}")
    _print_table(["TOPIC", "JOINS", "WHY"], [[v.slug, "yes" if v.joined else "no", v.reason] for v in verdicts])
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Why the source's next poll is when it is: which rule or publisher hint won, and what was weighed."""
    with _aggregator(args) as aggregator:
        source = aggregator.explain(args.source)
    if args.json:
        _print_json(
            {
                "id": source.id,
                "url": source.url,
                "enabled": source.enabled,
                "next_fetch_at": _iso(source.next_fetch_at),
                "reason": source.next_reason,
                "considered": list(source.schedule_considered),
                "error_count": source.error_count,
                "last_error": source.last_error,
                "last_warning": source.last_warning,
            }
        )
        return 0
    now = utc_now()
    print(f"{source.display_name} ({source.url})")
    if not source.enabled:
        print(f"  Not polled: {source.last_error or 'paused'}")
    elif source.next_fetch_at is None:
        print("  Never polled: it is due now.")
    else:
        local = source.next_fetch_at.astimezone()
        print(f"  Next poll: {local:%Y-%m-%d %H:%M} ({_until(source.next_fetch_at, now)})")
        print(f"  Because: {source.next_reason}")
    if source.schedule_considered:
        print("  Weighed:")
        for line in source.schedule_considered:
            print(f"    - {line}")
    if source.last_error and source.enabled:
        print(f"  Last error ({source.error_count} in a row): {source.last_error}")
    elif source.last_warning:
        print(f"  Last warning: {source.last_warning}")
    return 0


def cmd_stories(args: argparse.Namespace) -> int:
    """Stories newest first, each with every outlet's report (the first report is the feed entry)."""
    with _aggregator(args) as aggregator:
        stories = aggregator.stories(topic=args.topic, limit=args.limit)
    if args.json:
        _print_json(
            [
                {
                    "id": story.id,
                    "key": story.key,
                    "title": story.first.title,
                    "published": _iso(story.published),
                    "updated": _iso(story.updated),
                    "topics": list(story.topics),
                    "reports": [
                        _item_json(report) | {"revision": revision}
                        for report, revision in zip(story.reports, _revisions(story.reports), strict=True)
                    ],
                }
                for story in stories
            ]
        )
        return 0
    if not stories:
        print("No stories yet. Poll the sources with: offthewire poll")
        return 0
    for story in stories:
        outlets = len({report.source_id for report in story.reports})
        count = f"  [{outlets} outlets]" if outlets > 1 else ""
        print(f"{story.published.astimezone():%d %b %H:%M}  {story.first.title}{count}")
        for report, revision in zip(story.reports, _revisions(story.reports), strict=True):
            again = f" (revision {revision})" if revision > 1 else ""
            print(f"    {report.id:>6}  {report.published.astimezone():%H:%M}  {report.source}{again}: {report.title}")
    return 0


def _revisions(reports: Sequence[Item]) -> list[int]:
    """Each report's number among its outlet's reports of the story, oldest first (1, 2, ...)."""
    seen: Counter[int] = Counter()
    numbers = []
    for report in reports:
        seen[report.source_id] += 1
        numbers.append(seen[report.source_id])
    return numbers


def cmd_why(args: argparse.Namespace) -> int:
    """Whether two items are one story, and why (item ids from `items --json` or `stories`)."""
    with _aggregator(args) as aggregator:
        verdict = aggregator.why(args.first, args.second)
    if args.json:
        _print_json(
            {
                "items": [verdict.first.id, verdict.second.id],
                "same_story": verdict.same,
                "reason": verdict.reason,
                "similarity": round(verdict.score, 3),
                "stored_as_one_story": verdict.stored_together,
            }
        )
        return 0
    for item in (verdict.first, verdict.second):
        print(f"{item.id:>6}  {item.source}: {item.title}")
    answer = "one story" if verdict.same else "different stories"
    print(f"{answer}: {verdict.reason} (headline similarity {verdict.score:.2f}).")
    stored = "are stored as one story" if verdict.stored_together else "are stored as different stories"
    print(
        f"They {stored}"
        + (
            "."
            if verdict.same == verdict.stored_together
            else ", because matching looks only at reports already stored when an item arrives."
        )
    )
    return 0


def cmd_rights(args: argparse.Namespace) -> int:
    """Set how much of a source's text the feeds republish: full, summary or title (wire terms
    often forbid full text)."""
    with _aggregator(args) as aggregator:
        source = aggregator.set_rights(args.source, args.mode)
        aggregator.publish()
    print(f"Source {source.id} ({source.display_name}) is now republished as: {source.rights}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    """Stop polling a source; its items stay in the feeds."""
    with _aggregator(args) as aggregator:
        source = aggregator.set_paused(args.source, paused=True)
    print(f"Paused source {source.id}: {source.url}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Poll a paused (or 410-disabled) source again, starting at the next poll."""
    with _aggregator(args) as aggregator:
        source = aggregator.set_paused(args.source, paused=False)
    print(f"Resumed source {source.id}: {source.url} (due now)")
    return 0


def cmd_import_opml(args: argparse.Namespace) -> int:
    """Subscribe to every feed of an OPML file; its folders and categories become topics."""
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {args.file}: {exc.strerror or exc}.") from exc
    with _aggregator(args) as aggregator:
        progress = _Progress(0, sys.stderr) if not args.quiet else None
        summary = aggregator.import_opml(data, str(args.file), on_feed=progress.step if progress else None)
        if progress:
            progress.done()
    print(
        f"Imported {args.file}: {len(summary.added)} sources added, {len(summary.skipped)} already subscribed, "
        f"{len(summary.invalid)} not http(s) feeds."
    )
    for url, reason in summary.invalid:
        print(f"  skipped {url}: {reason}")
    return 0


def cmd_export_opml(args: argparse.Namespace) -> int:
    """Write the subscriptions as OPML 2.0 (topics as categories), to stdout or -o FILE."""
    with _aggregator(args) as aggregator:
        document = aggregator.export_opml()
    if args.output:
        try:
            args.output.write_bytes(document)
        except OSError as exc:
            raise ConfigError(f"Cannot write {args.output}: {exc.strerror or exc}.") from exc
        print(f"Wrote {args.output}")
    else:
        sys.stdout.buffer.write(document)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    """Apply retention now: drop items older than [retention] days (each source keeps its newest
    keep_per_source), leaving tombstones so they are not imported again; then publish and compact."""
    with _aggregator(args) as aggregator:
        pruned = aggregator.prune(vacuum=True)
        retention = aggregator.settings.retention
    print(
        f"Pruned {pruned} items older than {retention.days} days "
        f"(each source keeps its newest {retention.keep_per_source})."
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """The daemon: poll on schedule and serve the feeds over HTTP until SIGTERM/SIGINT; SIGHUP reloads."""
    from aggregator.daemon import Daemon

    path = find_config_file(args.config, os.environ)
    settings = with_database_url(load_settings(path), os.environ)
    _daemon_logging(args, settings)
    return _exit_after(Daemon(settings, path))


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole pipeline on the bundled sample wire, served on 127.0.0.1 (no network needed)."""
    from aggregator.daemon import Daemon
    from aggregator.demo import Demo, free_port

    folder = args.dir or Path(tempfile.mkdtemp(prefix="offthewire-demo-"))
    _clear_previous_demo(folder)
    with Demo(folder, free_port(args.port)) as demo:
        progress = _Progress(0, sys.stderr) if not args.quiet else None
        with demo.aggregator() as aggregator:
            summary = aggregator.poll(every_source=True, on_result=progress.step if progress else None)
            if progress:
                progress.done()
            stories = aggregator.stories()
            files = aggregator.output_files()
            items = sum(s.item_count for s in aggregator.sources())
            settings = aggregator.settings
        print(f"Served the sample wire at {demo.wire.base_url} and polled it from {folder}/")
        _print_summary(summary)
        print(f"\nStored {items} items in {settings.storage.described}")
        print(f"Wrote {len(files)} Atom feeds in {settings.output.dir}/:")
        for path in files:
            print(f"  {path}")
        shown = stories[:12]
        print(f'\n"{settings.output.title}" carries the latest {len(stories)} stories; the first {len(shown)}:')
        credits = {s.first.id: len({r.source_id for r in s.reports}) for s in shown}
        _print_ticker([story.first for story in shown], credits=credits)
        print(f"\nExplore it: {_program()} --config {demo.config} items   (or: list, stories, topics, explain 1)")
        if args.once:
            return 0
        _daemon_logging(args, settings, default="warning")

        def ready(url: str) -> None:
            print(f"\nOpen {url} (feeds: {url}feeds/off-the-wire.atom). Press Ctrl-C to stop.", flush=True)

        return _exit_after(Daemon(settings, demo.config, on_ready=ready))


# Helpers


def _daemon_logging(args: argparse.Namespace, settings: Settings, default: str | None = None) -> None:
    """The daemon logs to stderr for journald: `-q`/`-v` override `[log] level` (a line per fetch at info)."""
    name = default or settings.log.level
    if args.quiet:
        name = "error"
    elif args.verbose:
        name = "debug" if args.verbose > 1 else "info"
    logging.getLogger().setLevel(name.upper())


def _exit_after(daemon: Daemon) -> int:
    code = daemon.run()
    if daemon.tick_running:
        # A tick stuck past the shutdown limit must not hold the process: its thread is not a daemon thread.
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code


def _aggregator(args: argparse.Namespace) -> Aggregator:
    return make_aggregator(with_database_url(load_settings(find_config_file(args.config, os.environ)), os.environ))


def _program() -> str:
    """How to run this command again: `offthewire` when it is on the PATH, else its full path."""
    if shutil.which("offthewire"):
        return "offthewire"
    launched = Path(sys.argv[0])
    return str(launched.resolve()) if launched.name == "offthewire" else f"{sys.executable} -m aggregator"


def _clear_previous_demo(folder: Path) -> None:
    """A demo folder is reused only when it is empty or made by an earlier demo."""
    if not folder.exists() or not any(folder.iterdir()):
        return
    config = folder / "offthewire.toml"
    if not config.is_file() or not config.read_text(encoding="utf-8").startswith("# offthewire demo"):
        raise ConfigError(f"{folder} is not empty and was not made by `offthewire demo`; choose another --dir.")
    for name in ("offthewire.db", "offthewire.db-wal", "offthewire.db-shm"):
        (folder / name).unlink(missing_ok=True)
    for name in ("public", "wire"):
        shutil.rmtree(folder / name, ignore_errors=True)


class _Progress:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.count = 0
        self.stream = stream
        self.enabled = stream.isatty()

    def step(self, result: FetchResult | OpmlFeed) -> None:
        self.advance(1, result.url.rsplit("/", 1)[-1][:40])

    def advance(self, count: int, name: str = "") -> None:
        self.count += count
        if not self.enabled:
            return
        total = max(self.total, self.count)
        width = 30
        filled = int(width * self.count / total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.count}/{total} {name:<40}")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.count:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def _print_summary(summary: PollSummary) -> None:
    failed = summary.failed
    print(
        f"Polled {len(summary.outcomes)} sources: {summary.new} new, {summary.updated} updated, "
        f"{summary.not_modified} not modified, {len(failed)} failed."
    )
    for outcome in failed:
        where = outcome.url if outcome.name == outcome.url else f"{outcome.name} ({outcome.url})"
        print(f"  failed: {where}: {outcome.error}")
    warned = [o for o in summary.outcomes if o.warning]
    if warned:
        print(f"  {len(warned)} feeds had a survivable problem; `offthewire list` shows them.")


def _print_ticker(items: Sequence[Item], credits: dict[int, int] | None = None) -> None:
    local_zone = datetime.now().astimezone().tzinfo
    width = min(28, max(len(i.source) for i in items))
    day = None
    for item in items:
        moment = item.published.astimezone(local_zone)
        if moment.date() != day:
            day = moment.date()
            print(f"-- {moment:%A %d %B %Y} --")
        outlets = (credits or {}).get(item.id, 1)
        more = f"  (+{outlets - 1} more)" if outlets > 1 else ""
        print(f"{moment:%H:%M}  {_clip(item.source, width):<{width}}  {item.title}{more}")


def _print_matches(items: Sequence[Item]) -> None:
    """Search results, best first: a table, as the ticker's day headings would jump about."""
    local_zone = datetime.now().astimezone().tzinfo
    rows = [
        [str(i.id), f"{i.published.astimezone(local_zone):%d %b %H:%M}", _clip(i.source, 28), i.title] for i in items
    ]
    _print_table(["ID", "PUBLISHED", "SOURCE", "HEADLINE"], rows)


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _source_json(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "name": s.display_name,
        "topics": list(s.topics),
        "every_minutes": s.every_minutes,
        "enabled": s.enabled,
        "last_fetched_at": _iso(s.last_fetched_at),
        "last_status": s.last_status,
        "last_error": s.last_error,
        "last_warning": s.last_warning,
        "error_count": s.error_count,
        "next_fetch_at": _iso(s.next_fetch_at),
        "item_count": s.item_count,
        "rights": s.rights,
        "etag": _printable(s.etag),
        "last_modified": _printable(s.last_modified),
    }


def _item_json(i: Item) -> dict[str, Any]:
    return {
        "id": i.id,
        "source_id": i.source_id,
        "source": i.source,
        "title": i.title,
        "link": i.link,
        "published": _iso(i.published),
        "updated": _iso(i.updated),
        "topics": list(i.topics),
        "story_id": i.story_id,
        "author": i.author,
        "summary": i.summary,
    }


def _summary_json(summary: PollSummary) -> dict[str, Any]:
    return {
        "polled": len(summary.outcomes),
        "new": summary.new,
        "updated": summary.updated,
        "not_modified": summary.not_modified,
        "failed": len(summary.failed),
        "sources": [
            {
                "id": o.source_id,
                "url": o.url,
                "name": o.name,
                "status": o.status,
                "new": o.new,
                "updated": o.updated,
                "not_modified": o.not_modified,
                "error": o.error,
                "warning": o.warning,
            }
            for o in summary.outcomes
        ],
        "published": [str(p) for p in summary.published],
    }


def _printable(header: str | None) -> str | None:
    """A header value that may carry non-UTF-8 bytes, as text that can be printed."""
    return header.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if header else header


def _health(s: Source) -> str:
    if s.last_error:
        return f"failing ({s.error_count}x)"
    if s.last_status is None:
        return "never polled"
    return f"ok {s.last_status}" + (" (warning)" if s.last_warning else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return _span((now - moment).total_seconds()) + " ago"


def _until(moment: datetime | None, now: datetime) -> str:
    if moment is None or moment <= now:
        return "due now"
    return "in " + _span((moment - now).total_seconds())


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
