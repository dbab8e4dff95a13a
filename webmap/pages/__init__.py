"""Server-rendered pages: the dispatcher's map, the grid overview, the complaint forms and lists.

One blueprint (``pages``) whose views live in one module per kind of page.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

from webmap.pages import admin  # noqa: E402, F401  (registers its views on bp)
from webmap.pages import admin_people  # noqa: E402, F401
from webmap.pages import admin_places  # noqa: E402, F401
from webmap.pages import casework  # noqa: E402, F401
from webmap.pages import complaints  # noqa: E402, F401
from webmap.pages import dashboard  # noqa: E402, F401
from webmap.pages import field  # noqa: E402, F401
from webmap.pages import maps  # noqa: E402, F401
from webmap.pages import notifications  # noqa: E402, F401
from webmap.pages import printing  # noqa: E402, F401
from webmap.pages import progress  # noqa: E402, F401
from webmap.pages import queues  # noqa: E402, F401
