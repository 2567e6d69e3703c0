"""Licensing: whether a user may run a partner's client, by the method the partner agreed.

``methods.py`` holds the contract every method implements (portal users, the partner's web
service, proprietary adapters); the public check turns a method's verdict into a signed lease.
"""
