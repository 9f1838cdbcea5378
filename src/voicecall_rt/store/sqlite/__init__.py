"""The SQLite backend: the embedded default for one machine (`database`: the store,
`batches`: how a batch is committed, `schema`: tables and migrations, `files`: the
database's files and connections)."""
