"""The report returned by ``Solution.validate()`` and ``SolutionsConfig.check()``."""

from __future__ import annotations

from typing import Any, Iterable, Optional


class ValidationReport(list):  # type: ignore[type-arg]
    """The findings of a validation, errors first: a ``list`` of ``Finding``, with the verdict.

    The list always holds every finding (errors, warnings and informational ones), whatever
    the strictness; ``strict`` only decides which of them fail, as ``isolution validate
    --strict`` and ``isolution config check --strict`` decide their exit status:

    - ``strict=False``: errors fail (what MetalK8s refuses, or would serve wrongly);
    - ``strict=True``: errors and warnings fail (also what breaks a documented convention
      or a limit MetalK8s does not check).

    ``passed`` is True when nothing fails (the command's exit status would be 0);
    ``failures`` lists what fails.
    """

    #: Whether warnings fail.
    strict: bool
    #: Distinct blobs hashed (None when the validation did not hash, e.g. a config check).
    hashed_blobs: Optional[int]
    #: Bytes hashed (None when the validation did not hash).
    hashed_bytes: Optional[int]

    def __init__(
        self,
        findings: Iterable[Any] = (),
        *,
        strict: bool = False,
        hashed_blobs: Optional[int] = None,
        hashed_bytes: Optional[int] = None,
    ) -> None:
        super().__init__(findings)
        self.strict = strict
        self.hashed_blobs = hashed_blobs
        self.hashed_bytes = hashed_bytes

    @property
    def errors(self) -> list[Any]:
        """The findings of severity ``"error"``."""
        return [f for f in self if f.severity == "error"]

    @property
    def warnings(self) -> list[Any]:
        """The findings of severity ``"warning"``."""
        return [f for f in self if f.severity == "warning"]

    @property
    def failures(self) -> list[Any]:
        """The findings that fail under this strictness: errors, and warnings when
        ``strict``."""
        failing = ("error", "warning") if self.strict else ("error",)
        return [f for f in self if f.severity in failing]

    @property
    def passed(self) -> bool:
        """True when no finding fails under this strictness."""
        return not self.failures

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "failed"
        return (
            f"<isolution.ValidationReport {verdict} (strict={self.strict}): "
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s), "
            f"{len(self)} finding(s)>"
        )
