"""Viewer support that is not widgets: slice rendering, windowing, overlays, worklist queries."""
