"""Reception of e-Intervention lot 1 messages by the OI (infrastructure operator).

- :mod:`.fields`: checks one log line (envelope and body) against the field
  facts of the lot 1 OpenAPI description and the spec tables 2.1.3 / 2.1.5;
- :mod:`.rules`: the OI's management rules on reception (spec 2.1.6 and 4):
  references, duplicates, re-emissions, M3 before M1, M5 lists;
- :mod:`.reception`: the load of a message log into the store, with one answer
  per line (``opeval ingest messages LOG --responses OUT``).
"""
