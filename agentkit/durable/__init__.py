"""Durable agent runs on existing engines: runs that survive crashes and spread over workers.

Each engine is its own optional extra and module, imported only by whoever uses it:
`agentkit.durable.dbos` (``pip install 'agentkit-loop[dbos]'``) and `agentkit.durable.temporal`
(``pip install 'agentkit-loop[temporal]'``). Importing this package imports neither engine.
"""
