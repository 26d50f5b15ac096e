"""Exceptions raised by t2i_ext. Each message says what was wrong and what to do about it."""


class AdapterError(Exception):
    """Base class of every error raised by t2i_ext."""


class AdapterLoadError(AdapterError, ValueError):
    """A file, folder or state dict is not a loadable T2I-Adapter."""


class NotAnAdapterError(AdapterLoadError):
    """A readable model file that is something else (a ControlNet, a LoRA, …): expected in shared model folders."""


class UnsafePickleError(AdapterLoadError):
    """A pickle that would run code when loaded (``target``: the callable it names); refused, never run."""

    def __init__(self, message: str, target: str) -> None:
        super().__init__(message)
        self.target = target


class ConditionError(AdapterError, ValueError):
    """A condition image cannot be turned into the tensor an adapter expects."""


class InjectionError(AdapterError, RuntimeError):
    """Adapter outputs do not fit the UNet they are injected into."""


class AdapterOutputError(AdapterError, ValueError):
    """An adapter pass produced NaN or infinite values (broken weights, or an overflow in half precision)."""
