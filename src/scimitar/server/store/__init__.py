"""The SCIM target's storage: SQL for resources, memberships and filters."""
