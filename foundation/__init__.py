"""The foundation layer: configuration, the Student Support catalogue, errors, logging and TOML
reading. Every feature (plugin/, connector/, documents/) builds on it; it imports no feature, so it
can be read and tested on its own.
"""

__version__ = "0.1.0"
