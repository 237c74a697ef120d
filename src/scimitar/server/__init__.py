"""The SCIM 2.0 target: ASGI routes, bearer-key auth, tenants, role policy, store."""
