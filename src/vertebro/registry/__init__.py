"""See the package docstring of vertebro and DESIGN section 2."""
