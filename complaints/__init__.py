"""RedGrid's complaints core: the 诉求收集 → 多元议事 → 问题化解 → 回访反馈 workflow.

A plain library, like ``geo``: no Flask, no database, no clock. The web layer, the
command line and the tests call the same pure functions, and storage keeps the events
they return.

- ``complaints.workflow``: states, named actions, events, overdue and due-soon;
- ``complaints.workdays``: deadlines in Chinese working days (holidays and 调休);
- ``complaints.catalog``: categories, departments and whistle groups, loaded from
  ``data/catalog/``.
"""
