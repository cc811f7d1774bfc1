"""Student Support Connector: PowerSchool Student Support Page generator and partner sync."""

__version__ = "0.1.0"
