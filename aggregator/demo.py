"""`offthewire demo`: the whole pipeline on the bundled sample wire, with no network.

It renders the sample wire into a scratch folder, serves it on 127.0.0.1, writes a config there,
subscribes to every sample feed and polls it once; the CLI then reports, and (unless `--once`)
keeps the daemon running so the feeds, the front page and the ticker can be opened.
"""

from __future__ import annotations

import socket
from pathlib import Path

from aggregator.config import Settings, load_settings
from aggregator.core import Aggregator, make_aggregator, utc_now
from aggregator.samplewire import SampleWireServer, render_sample_wire

DEMO_MARKER = "# offthewire demo configuration"
DEMO_TOPICS = """
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


def demo_config(port: int) -> str:
    """The demo's config file: everything in the scratch folder, served on 127.0.0.1:port."""
    return f"""{DEMO_MARKER}: the bundled sample wire, served on 127.0.0.1.
[storage]
path = "offthewire.db"

[output]
dir = "public"
base_url = "http://127.0.0.1:{port}/"
title = "Off the wire"
limit = 100

[poll]
timeout = 10
tick = 10

[server]
listen = "127.0.0.1:{port}"
{DEMO_TOPICS}"""


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens on it on 127.0.0.1, else a free port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


class Demo:
    """The sample wire served and subscribed to in `folder`; a context manager."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.config = folder / "offthewire.toml"
        self.port = port
        self.wire = SampleWireServer(folder / "wire")
        self.settings: Settings | None = None

    def __enter__(self) -> Demo:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(demo_config(self.port), encoding="utf-8")
        feeds = render_sample_wire(self.folder / "wire", utc_now())
        self.wire.__enter__()
        self.settings = load_settings(self.config)
        with make_aggregator(self.settings) as aggregator:
            known = {source.url for source in aggregator.sources()}
            for feed in feeds:
                url = self.wire.base_url + feed.file
                if url not in known:
                    aggregator.add_source(url, name=feed.name, topics=feed.topics)
        return self

    def aggregator(self) -> Aggregator:
        assert self.settings is not None
        return make_aggregator(self.settings)

    def __exit__(self, *exc: object) -> None:
        self.wire.__exit__()
