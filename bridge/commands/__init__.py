"""Sub-commands of ``vjbridge`` (see :mod:`bridge.cli`). Top-level imports here stay light."""
