"""The two HTTP surfaces: ``public`` (installed clients) and ``admin`` (partners and operators)."""
