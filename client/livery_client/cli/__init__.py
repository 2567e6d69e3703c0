"""The ``livery-client`` command line: the SDK's behaviour made visible, for people and scripts."""
