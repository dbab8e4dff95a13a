"""The application layer: what a user or another system asks of RedGrid.

Plain Python between the cores (``geo``, ``complaints``) and storage (``store``) below and
the adapters (``webmap``, ``cli``) above: it knows roles and scopes, owns transactions and
caches, and raises domain errors (``services.errors``) that know nothing of HTTP. Built once
by ``services.build.build_services(config)``.
"""
