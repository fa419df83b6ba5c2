# Copied by contractgen 0.1.0 from its runtime. Do not edit.
"""Runtime support shared by the generated capability wrappers and workflows.

These modules are copied verbatim into the generated package; they hold the
error tree, call context, idempotency keys, policies and the deployment
environment they see, how settings are read, call logging and the provider
execution engines, so the generated code itself stays declarative.
"""
