"""offthewire: poll news-wire feeds, merge their stories in SQLite, republish them as Atom feeds."""

__version__ = "0.1.0"
