"""Two-person approval: a sensitive action is requested by one person and carried out once others approve."""
