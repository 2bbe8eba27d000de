"""The only SQL: one installation's database, in SQLite (through sqlite-utils) or PostgreSQL.

`Store` is made of one part per job, each over `database.Database` (the connection, migrations,
transactions): `sources` (subscriptions and what polls learnt), `items` (items and stories,
written as the pipeline decides), `reading` (what the outputs and the CLI read). `schema` holds
the migrations. Methods take and return `types`, never rows; none makes a decision of the poll.
"""

from aggregator.store.database import Database
from aggregator.store.items import ItemRecords
from aggregator.store.reading import Reading
from aggregator.store.schema import from_text, to_text
from aggregator.store.sources import SourceRecords

__all__ = ["Database", "Store", "from_text", "to_text"]


class Store(SourceRecords, ItemRecords, Reading):
    """The database of one offthewire installation."""
