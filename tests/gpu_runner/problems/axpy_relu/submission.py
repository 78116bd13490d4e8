"""Write custom_kernel: relu(alpha * x + y)."""

from task import input_t, output_t


def custom_kernel(data: input_t) -> output_t:
    x, y, alpha = data
    raise NotImplementedError("custom_kernel is not written yet")
