"""tinygrad-opencl: the OpenCL backend of tinygrad-core (device OPENCL, alias CL)."""

__version__ = "0.1.0"
