"""Brands, their revisions and assets, and the access codes installed clients launch with."""
