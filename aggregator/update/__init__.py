"""The poll: fetch -> parse -> prepare -> match -> store, for the sources that are due.

- `pipeline`: one poll, from the due sources to what each of them stored or why it failed;
- `pool`: the processes that parse and prepare feeds (and render archive pages) on every core;
- `batches`: a poll's new bodies held for storing, stored in batches when they bring many items;
- `storing`: a poll's new items matched to stories in the canonical order, over the story index
  in memory, and each source's items written in a transaction of its own.
"""
