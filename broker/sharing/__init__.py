"""Purpose-bound sharing: decide, audit, then release exactly what the permit allows."""
