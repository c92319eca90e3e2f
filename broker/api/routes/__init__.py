"""The broker's HTTP routes, one module per resource."""
