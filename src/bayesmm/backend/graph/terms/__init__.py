"""The graph's piece of each special kind of term, one module per kind."""
