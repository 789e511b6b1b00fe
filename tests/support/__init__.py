"""What the tests share: real servers and their apps, Redis and cluster processes, the fault harness and its
checker, the spec parser, and which twin a test runs on (``support.twins``). Imported as ``support.<module>``
(``tests/`` is on ``sys.path`` through its ``conftest.py``)."""
