"""tinygrad-metal: the METAL backend of tinygrad-core (Apple GPUs, through pyobjc's Metal bindings)."""

__version__ = "0.1.0"
