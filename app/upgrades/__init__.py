"""Upgrade control: releases, channels and their control files, and the upgrade decision."""
