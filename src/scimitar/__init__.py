"""scimitar: open, self-hosted SCIM 2.0 provisioning."""

__version__ = "0.1.0"
