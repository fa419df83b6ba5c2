"""contractgen: compiles capability and workflow contracts into typed Python.

The pipeline, one module per stage::

    loader      specs/*.yaml → documents (plain data with positions)
    checker     documents → IR, with diagnostics     (spec, fieldtypes,
                                                      bindings, workflows)
    render      IR → source text (Jinja templates under templates/)
    formatting  source → black-formatted source (cached)
    writer      files → the output folder, atomically

`pipeline.build` runs them in order; `cli` is the command line on top.
"""

__version__ = "0.1.0"
