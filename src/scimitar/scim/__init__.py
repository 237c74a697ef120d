"""The SCIM 2.0 protocol itself (RFC 7643, RFC 7644): pure, no I/O."""
