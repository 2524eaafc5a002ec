"""The portal's routes, one module per area (portal/urls.py includes them all)."""
