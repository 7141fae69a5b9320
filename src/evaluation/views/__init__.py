"""Dashboard views: per page, a ``param.Parameterized`` state (queries, filters; no
Panel import) and a thin ``pn.viewable.Viewer`` on top. :mod:`.pages` is the one
registry of pages that ``opeval serve`` serves and the index lists.
"""
