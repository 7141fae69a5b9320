"""opeval: operation evaluation of security systems, alarms and FTTH interventions."""

__version__ = "0.1.0"
