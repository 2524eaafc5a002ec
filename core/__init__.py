"""What every app shares and no app owns: domain errors, API conventions, roles, transitions, tasks.

The bottom of the layers (see README "Layout"): it imports no app of the platform and holds no model.
"""
