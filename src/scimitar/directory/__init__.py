"""The source directory: users, groups, nested groups, app-role assignments, a change feed."""
