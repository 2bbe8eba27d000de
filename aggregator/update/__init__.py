"""The poll: fetch -> parse -> prepare -> match -> store, for the sources that are due.

- `pipeline`: one poll, from the due sources to what each of them stored or why it failed;
- `pool`: the processes that parse and prepare feeds (and render archive pages) on every core;
- `writer`: the one thread that stores each feed as soon as it is ready.
"""
