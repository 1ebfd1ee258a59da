"""What the contract kit raises: a broken contract, or an event it cannot generate."""


class ContractViolation(AssertionError):  # noqa: N818 - reads as the failure it reports
    """A mapping breaks one of its contracts; the message names the mapping, the contract and the cause."""


class StrategyError(TypeError):
    """Hypothesis cannot generate a field of a mapped event; the message says how to register a strategy."""
