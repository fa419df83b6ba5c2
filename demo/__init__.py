"""The `make demo` sample: the generated Stripe capabilities, end to end.

Run it with `python -m demo`. See `demo/__main__.py`.
"""
