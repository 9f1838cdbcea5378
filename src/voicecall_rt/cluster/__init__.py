"""Instances sharing one store (docs/scaling.md): `base` is what the call manager asks of
them (a slot under the global limit, who owns a call, the calls of instances that died),
`single` one process on its own (SQLite), `postgres` several on one PostgreSQL, `build`
picks one from the settings."""
