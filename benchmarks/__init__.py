"""Side-by-side benchmark of census_source against a plain dlt ``rest_api`` baseline.

Run ``python -m benchmarks.run`` (``--quick`` for a smoke version); see ``benchmarks/run.py``.
"""
