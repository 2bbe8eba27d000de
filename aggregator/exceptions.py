"""The project's errors: one base class, one subclass per kind of failure a user can act on.

Each error's message is one plain sentence naming the problem (the file, key, URL or source).
"""


class AggregatorError(Exception):
    """Base of every error offthewire raises on purpose; anything else is a bug."""

    exit_code = 1


class InvalidURLError(AggregatorError):
    """A URL that is not http(s) with a host."""

    exit_code = 2


class AlreadySubscribedError(AggregatorError):
    """The URL (after normalising) is already a source."""


class NotFoundError(AggregatorError):
    """No source matches the given URL or id."""


class FetchError(AggregatorError):
    """A source could not be fetched (network, HTTP status, limits)."""


class ParseError(AggregatorError):
    """A fetched document is not a usable RSS or Atom feed."""


class StorageError(AggregatorError):
    """The database or the output directory cannot be read or written."""


class UnstorableError(AggregatorError):
    """Something one source sent that the database refused (a value it cannot hold, a broken
    constraint): that source's problem, not the database's."""


class ConfigError(AggregatorError):
    """A bad configuration file, key or value, or a bad command-line argument."""

    exit_code = 2
