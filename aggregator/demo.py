"""`offthewire demo`: the whole pipeline on the bundled sample wire, with no network.

It renders the sample wire into a scratch folder, serves it on 127.0.0.1, writes a config there,
subscribes to every sample feed, polls, publishes, and reports what it made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aggregator.config import load_settings
from aggregator.core import Aggregator, make_aggregator, utc_now
from aggregator.samplewire import SampleWireServer, render_sample_wire
from aggregator.types import FetchResult, PollSummary

DEMO_CONFIG = """\
# offthewire demo configuration: the bundled sample wire, served on 127.0.0.1.
[storage]
path = "offthewire.db"

[output]
dir = "public"
title = "Off the wire"
limit = 100

[poll]
timeout = 10

[[topics]]
slug = "world"
title = "World"

[[topics]]
slug = "business"
title = "Business"
keywords = ["central bank", "interest rates", "stocks", "inflation"]

[[topics]]
slug = "sports"
title = "Sports"
keywords = ["olympic", "marathon", "world cup", "grand slam"]

[[topics]]
slug = "china-asia"
title = "China and Asia"
keywords = ["China", "Beijing", "Shanghai", "Tokyo", "Seoul", "中国"]

[[topics]]
slug = "science"
title = "Science"
keywords = ["climate", "telescope", "space", "researchers"]

[[topics]]
slug = "tech"
title = "Technology"
keywords = ["AI", "chip", "chips", "cybersecurity", "semiconductor"]

[[topics]]
slug = "energy"
title = "Energy"
keywords = ["oil", "gas", "OPEC", "solar", "wind power", "crude"]

[[topics]]
slug = "elections"
title = "Elections"
keywords = ["election", "vote", "ballot", "polls open"]
"""


@dataclass(frozen=True)
class DemoRun:
    """What the demo made, for the CLI to report."""

    folder: Path
    config: Path
    wire_url: str
    summary: PollSummary
    aggregator: Aggregator


def run_demo(folder: Path, on_result: Callable[[FetchResult], None] | None = None) -> DemoRun:
    """Serve the sample wire, subscribe to it in `folder`, poll once and publish."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "offthewire.toml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    wire_folder = folder / "wire"
    feeds = render_sample_wire(wire_folder, utc_now())
    with SampleWireServer(wire_folder) as server:
        aggregator = make_aggregator(load_settings(config))
        known = {source.url for source in aggregator.sources()}
        for feed in feeds:
            url = server.base_url + feed.file
            if url not in known:
                aggregator.add_source(url, name=feed.name, topics=feed.topics)
        summary = aggregator.poll(every_source=True, on_result=on_result)
    return DemoRun(folder, config, server.base_url, summary, aggregator)
