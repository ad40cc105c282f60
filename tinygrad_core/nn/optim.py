"""Optimizers (SGD, Adam, AdamW, LAMB, Muon) and learning-rate schedulers, with tinygrad's names and signatures.

An optimizer takes a list of Tensors, or of models/objects holding them (`Adam([model])` trains every tensor of
model). step() computes each update lazily, writes it into the parameter's own memory with Tensor.assign, and
realizes everything in one schedule. Like tinygrad, the learning rate is a Tensor (`opt.lr`), so a scheduler or the
JIT can change it in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tinygrad_core.devices import Device
from tinygrad_core.dtype import dtypes
from tinygrad_core.nn.state import get_parameters
from tinygrad_core.tensor import Tensor

__all__ = [
    "LAMB",
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "MultiStepLR",
    "Muon",
    "Optimizer",
    "OptimizerGroup",
    "StepLR",
]


def _collect(params: Any) -> tuple[list[Tensor], list[Tensor]]:
    """(trainable tensors, buffers): buffers are the tensors with requires_grad=False (BatchNorm's running
    statistics, as `get_parameters(model)` lists them): never updated, only realized with each step (tinygrad's way)."""
    if isinstance(params, Tensor) or isinstance(params, Mapping) or not isinstance(params, Iterable):
        params = [params]
    trainable: list[Tensor] = []
    buffers: list[Tensor] = []
    seen: set[int] = set()
    for index, item in enumerate(params):
        if isinstance(item, Tensor):
            found = [item]
        else:
            found = get_parameters(item)
            if not found:
                raise TypeError(f"optimizer: params[{index}] is a {type(item).__name__} that holds no Tensor")
        for tensor in found:
            if id(tensor) in seen:
                continue
            seen.add(id(tensor))
            if tensor.requires_grad is None:  # tinygrad: a tensor handed to an optimizer becomes trainable
                tensor.requires_grad = True
            (trainable if tensor.requires_grad else buffers).append(tensor)
    if not trainable:
        raise ValueError(
            f"optimizer: nothing to train: the {len(buffers)} tensor(s) given all have requires_grad=False"
        )
    return trainable, buffers


def _state_like(tensor: Tensor, device: str) -> Tensor:
    """Zeros shaped like a parameter on `device` (sharded like it on its devices), realized now so the optimizer's
    state keeps one buffer for life."""
    return tensor.zeros_like(device=device, requires_grad=False).contiguous().realize()


def _scalar(value: float, device: str) -> Tensor:
    return Tensor([value], dtype=dtypes.float32, device=device, requires_grad=False).contiguous().realize()


class Optimizer:
    """Base class: holds the parameters, the learning rate Tensor, zero_grad() and step(); subclasses write _step().

    `device` (tinygrad's argument) keeps the optimizer's state and arithmetic on another device than the parameters,
    e.g. `LAMB(params, device="CPU")` to save accelerator memory: each step copies the gradients there and the
    updates back, explicitly. By default the state lives with the first parameter."""

    def __init__(self, params: Any, lr: float, device: str | None = None):
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be non-negative, got {lr}")
        self.params, self.buffers = _collect(params)
        self.device = Device.canonicalize(device) if device is not None else self.params[0].device
        self.lr = _scalar(lr, self.device)

    def _state_device(self, state: list[Tensor], index: int) -> str:
        """Where parameter `index`'s update is computed: with its state, which may have moved (tensor.to_("CPU"))."""
        return state[index].device if state else self.device

    def zero_grad(self) -> None:
        """Forget the gradients: the next backward() starts from zero."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter from its .grad, in place, and realize the parameters and the optimizer's state."""
        Tensor.realize(*self.schedule_step())

    def schedule_step(self) -> list[Tensor]:
        """The tensors step() realizes, with their updates assigned but not yet computed (to fuse with other work)."""
        for index, param in enumerate(self.params):
            if param.grad is None:
                raise RuntimeError(
                    f"{type(self).__name__}.step(): parameter {index} (shape {param.shape}) has no .grad; call "
                    "loss.backward() first, and check that the loss depends on this parameter"
                )
        return [*self._step(), *self.params, *self.buffers]

    def _lr(self, device: str) -> Tensor:
        return self.lr.to(device).reshape(())

    def _step(self) -> list[Tensor]:
        """Assign the update of every parameter; return the optimizer state tensors to realize with them."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _step")


class OptimizerGroup(Optimizer):
    """Several optimizers stepped as one (e.g. different learning rates for different parts of a model)."""

    def __init__(self, *optimizers: Optimizer):
        self.optimizers = optimizers
        self.params = [param for opt in optimizers for param in opt.params]
        self.buffers = [buffer for opt in optimizers for buffer in opt.buffers]

    def __getitem__(self, index: int) -> Optimizer:
        return self.optimizers[index]

    def _step(self) -> list[Tensor]:
        return [tensor for opt in self.optimizers for tensor in opt._step()]


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    classic=False (tinygrad's default) scales the gradient by lr before it enters the momentum buffer; classic=True
    scales after, as PyTorch does. The two agree while lr is constant and differ only once a scheduler changes it.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 0.001,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        classic: bool = False,
        device: str | None = None,
    ):
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be non-negative, got {momentum}")
        super().__init__(params, lr, device)
        self.momentum, self.wd, self.nesterov, self.classic = momentum, weight_decay, nesterov, classic
        self.b = [_state_like(param, self.device) for param in self.params] if momentum else []

    def _step(self) -> list[Tensor]:
        for index, param in enumerate(self.params):
            assert param.grad is not None
            device = self._state_device(self.b, index)
            lr = self._lr(device)
            grad = param.grad.to(device)
            if self.wd:
                grad = grad + self.wd * param.detach().to(device)
            if not self.classic:
                grad = grad * lr
            grad = self._with_momentum(index, grad)
            if self.classic:
                grad = grad * lr
            param.assign(param.detach() - grad.to(param.device).cast(param.dtype))
        return self.b

    def _with_momentum(self, index: int, grad: Tensor) -> Tensor:
        """The update after the momentum buffer (b = momentum * b + grad), Nesterov's look-ahead if asked."""
        if not self.momentum:
            return grad
        buf = self.b[index].assign((self.momentum * self.b[index] + grad).cast(self.b[index].dtype))
        return grad + self.momentum * buf if self.nesterov else buf


class Muon(SGD):
    """Muon: SGD momentum whose update is orthogonalized by Newton-Schulz steps, then weight decay after momentum
    (tinygrad's arguments and defaults). Each update is reshaped to (rows, -1) for the iteration.

    - Described: https://kellerjordan.github.io/posts/muon/"""

    def __init__(
        self,
        params: Any,
        lr: float = 0.001,
        momentum: float = 0.95,
        weight_decay: float = 0.1,
        ns_steps: int = 5,
        ns_coefficients: tuple[float, ...] = (3.4445, -4.775, 2.0315),
        nesterov: bool = True,
        device: str | None = None,
    ):
        super().__init__(params, lr, momentum, weight_decay, nesterov and momentum > 0, device=device)
        self.ns_steps, self.ns_coefficients = ns_steps, tuple(ns_coefficients)

    def _step(self) -> list[Tensor]:
        for index, param in enumerate(self.params):
            assert param.grad is not None
            device = self._state_device(self.b, index)
            lr = self._lr(device)
            grad = self._with_momentum(index, param.grad.to(device))
            rows = grad.reshape(grad.shape[0], -1) if grad.ndim else grad.reshape(1, 1)
            grad = rows.newton_schulz(self.ns_steps, self.ns_coefficients).reshape(grad.shape) * lr
            if self.wd:  # decoupled: after momentum and orthogonalization
                grad = grad + self.wd * lr * param.detach().to(device)
            param.assign(param.detach() - grad.cast(param.dtype).to(param.device))
        return self.b


class LAMB(Optimizer):
    """LAMB (layer-wise adaptive moments): Adam's update scaled per tensor by ||param|| / ||update||.

    adam=True skips that trust ratio, which makes it Adam (weight_decay=0) or AdamW (weight_decay>0).
    """

    def __init__(
        self,
        params: Any,
        lr: float = 0.001,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        adam: bool = False,
        device: str | None = None,
    ):
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be non-negative, got {weight_decay}")
        super().__init__(params, lr, device)
        self.b1, self.b2, self.eps, self.wd, self.adam = b1, b2, eps, weight_decay, adam
        # b1**t and b2**t for the bias correction, kept as tensors so the step count never becomes a constant
        self.b1_t, self.b2_t = _scalar(1.0, self.device), _scalar(1.0, self.device)
        self.m = [_state_like(param, self.device) for param in self.params]
        self.v = [_state_like(param, self.device) for param in self.params]

    def _step(self) -> list[Tensor]:
        self.b1_t.assign(self.b1_t * self.b1)
        self.b2_t.assign(self.b2_t * self.b2)
        # the bias corrections as 0-d factors, made once per step and device, not once per parameter:
        # m_hat = m * (1 / (1 - b1**t)), sqrt(v_hat) = sqrt(v) * (1 / sqrt(1 - b2**t))
        factors: dict[str, tuple[Tensor, Tensor, Tensor]] = {}
        for index, param in enumerate(self.params):
            assert param.grad is not None
            device = self._state_device(self.m, index)
            if device not in factors:
                b1_t, b2_t = self.b1_t.to(device).reshape(()), self.b2_t.to(device).reshape(())
                factors[device] = (self._lr(device), (1.0 - b1_t).reciprocal(), (1.0 - b2_t).sqrt().reciprocal())
            lr, m_scale, v_scale = factors[device]
            grad = param.grad.to(device)
            m = self.m[index].assign((self.b1 * self.m[index] + (1.0 - self.b1) * grad).cast(self.m[index].dtype))
            v = self.v[index].assign(
                (self.b2 * self.v[index] + (1.0 - self.b2) * grad.square()).cast(self.v[index].dtype)
            )
            update = (m * m_scale) / (v.sqrt() * v_scale + self.eps)
            if self.wd:
                update = update + self.wd * param.detach().to(device)
            if not self.adam:
                param_norm = param.detach().to(device).square().sum().sqrt()
                update_norm = update.square().sum().sqrt()
                ratio = (param_norm > 0).where((update_norm > 0).where(param_norm / update_norm, 1.0), 1.0)
                update = update * ratio
            param.assign(param.detach() - (lr * update).to(param.device).cast(param.dtype))
        return [self.b1_t, self.b2_t, *self.m, *self.v]


class Adam(LAMB):
    """Adam: `Adam([model], lr=0.001, b1=0.9, b2=0.999, eps=1e-8)`; matches torch.optim.Adam."""

    def __init__(
        self,
        params: Any,
        lr: float = 0.001,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        device: str | None = None,
    ):
        super().__init__(params, lr, b1, b2, eps, weight_decay=0.0, adam=True, device=device)


class AdamW(LAMB):
    """Adam with decoupled weight decay: matches torch.optim.AdamW."""

    def __init__(
        self,
        params: Any,
        lr: float = 0.001,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        device: str | None = None,
    ):
        super().__init__(params, lr, b1, b2, eps, weight_decay=weight_decay, adam=True, device=device)


# --- learning-rate schedulers ---
class LRScheduler:
    """PyTorch-style: call step() once per epoch (or per iteration) after optimizer.step(); it sets optimizer.lr.

    Constructing a scheduler performs the first step (epoch 0, the optimizer's initial lr), as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr.numpy()[0])
        self.last_epoch = -1
        self._last_lr = self.base_lr
        self.step()

    def get_lr(self) -> float:
        """The learning rate for epoch self.last_epoch."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def get_last_lr(self) -> list[float]:
        """[the learning rate set by the last step()], a list like PyTorch's (one entry: one parameter group)."""
        return [self._last_lr]

    def step(self) -> None:
        self.last_epoch += 1
        self._last_lr = float(self.get_lr())
        self.optimizer.lr.assign(
            Tensor([self._last_lr], dtype=self.optimizer.lr.dtype, device=self.optimizer.lr.device)
        ).realize()


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]):
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.base_lr * self.lr_lambda(self.last_epoch)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if step_size <= 0:
            raise ValueError(f"StepLR: step_size must be positive, got {step_size}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (number of milestones reached)."""

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** sum(1 for milestone in self.milestones if milestone <= self.last_epoch)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma**self.last_epoch


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: a cosine from base_lr to eta_min."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def get_lr(self) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
