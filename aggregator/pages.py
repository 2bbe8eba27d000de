"""The HTML a person opens: the front page and the embeddable ticker; pure (data in, text out).

Templates are Jinja2 with autoescaping on, so every headline, name and error is escaped; links
come from the parser, which only keeps http(s) URLs. No JavaScript anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import jinja2

from aggregator import __version__
from aggregator.text import plain_text
from aggregator.types import Item, Source, Story, Topic

SNIPPET_CHARS = 240


@dataclass(frozen=True)
class FeedLink:
    title: str
    url: str


@dataclass(frozen=True)
class TopicBlock:
    topic: Topic
    feed_url: str
    stories: Sequence[Story]


def _snippet(summary_html: str) -> str:
    """A summary's first words as plain text, for a search result."""
    text = " ".join(plain_text(summary_html).split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%d %b %H:%M") if moment else "never"


class Pages:
    """Renders the templates bundled with the package."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("aggregator", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["clock"] = _clock
        self.env.filters["snippet"] = _snippet
        self.css = (resources.files("aggregator") / "templates" / "base.css").read_text(encoding="utf-8")

    def index(
        self,
        *,
        title: str,
        base_url: str,
        ticker: Sequence[Story],
        topics: Sequence[TopicBlock],
        sources: Sequence[Source],
        feeds: Sequence[FeedLink],
        story_count: int,
        updated: datetime | None,
    ) -> str:
        return self.env.get_template("index.html").render(
            title=title,
            base_url=base_url,
            ticker=ticker,
            topics=topics,
            sources=sources,
            feeds=feeds,
            story_count=story_count,
            updated=_clock(updated) if updated else None,
            css=self.css,
            version=__version__,
        )

    def ticker(self, *, title: str, label: str, ticker: Sequence[Story]) -> str:
        return self.env.get_template("ticker.html").render(title=title, label=label, ticker=ticker, css=self.css)

    def search(self, *, title: str, base_url: str, query: str, results: Sequence[Item]) -> str:
        return self.env.get_template("search.html").render(
            title=title, base_url=base_url, query=query, results=results, css=self.css, version=__version__
        )
