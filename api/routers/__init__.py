"""Routers of the HTTP edge, one module per resource."""
