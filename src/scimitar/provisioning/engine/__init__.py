"""The provisioning cycle: plan, match, write, and remember, one app at a time."""
