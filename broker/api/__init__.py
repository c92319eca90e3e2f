"""The HTTP layer of the broker: routes, problem documents and resource limits."""
