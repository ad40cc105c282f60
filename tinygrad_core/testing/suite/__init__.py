"""The conformance kit: every backend, ours or a third party's, checked against numpy at six levels.

    pytest --pyargs tinygrad_core.testing.suite --device NAME [--kit-level core] [--kit-report report.json]
    python -m tinygrad_core.testing --device NAME [--level core] [--json report.json]

| level        | module               | what it checks                                                              |
|--------------|----------------------|-----------------------------------------------------------------------------|
| registration | test_registration.py | the plugin registers, runs here, declares sane capabilities, imports cheaply |
| buffers      | test_buffers.py      | alloc, copy in and out, sizes 0, 1 and large, every declared dtype          |
| ops          | test_ops.py          | every ALU op on every declared dtype, CONST, and LOADs through views        |
| reduce       | test_reduce.py       | SUM and MAX over axes, empty and broadcast reductions, fused elementwise    |
| autodiff     | test_autodiff.py     | gradients through the Tensor API against finite differences                 |
| training     | test_training.py     | small models trained until their loss is under a threshold                  |

The first four are the core levels: hand-built kernels of the IR, run with `Device[name].run`. Tests ask for
capabilities (`tinygrad_core.testing.require`), never for backend names: a dtype a backend doesn't declare is a skip
with the backend's reason, and a test it lists in `known_failures` is an expected failure with the reason.
"""
