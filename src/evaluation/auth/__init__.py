"""Access control for ``opeval serve``: users, roles, and what each role may see.

- :mod:`.credentials` — the users file (salted scrypt hashes, never passwords);
- :mod:`.roles` — the roles, :class:`~.roles.Principal`, which pages a role opens;
- :mod:`.scope` — a role as Ibis filters on the contract's tables
  (:func:`~.scope.scoped_tables`) and the per-role database the dashboards read
  (:class:`~.scope.ScopedStores`): pages only ever receive restricted rows;
- :mod:`.server` — the Panel/Bokeh hooks (hashed basic-auth login handler,
  authorisation callback, ``/health``, structured logs).
"""
