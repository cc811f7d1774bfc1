"""Student Support Connector, the application layer: the `ssp` command line and `ssp demo`. It sits
on top of the features (plugin/, connector/, documents/) and the sandbox, and is the only place that
wires them together.
"""

from foundation import __version__

__all__ = ["__version__"]
