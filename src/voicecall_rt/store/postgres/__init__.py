"""The PostgreSQL backend (`store.url`), for several instances on one database:
`database` the store, `batches` how a batch is committed (and held through an outage),
`schema` tables and versioned migrations, `connect` connections and the URL shown to
people."""
