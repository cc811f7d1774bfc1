"""Fault injection for the sandbox: what goes wrong with which request.

A FaultPlan is built from a spec string (``"429:0.1,503:0.05,reset:0.02"``: each kind with a
probability drawn from a seeded RNG, so a run is reproducible) and can be scripted from tests
(``plan.script(["429", "ok", "reset"])``: one entry per matching request, in order, before the
probabilities apply again). ``plan.only(...)`` narrows the plan to some paths and methods, e.g. to
fail only writes.

Write faults come in two flavours so the client's duplicate-write protection can be tested:
``reset`` fails *before* the request is applied, ``reset_after_write`` applies it (the row is
committed) and then fails the response the same way.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from foundation.errors import ConfigError

__all__ = ["FaultPlan", "Fault", "FAULT_KINDS", "QUIRK_KEYS", "parse_spec"]

# Kinds that replace the response. Each may take the suffix `_after_write`: apply, then fail.
FAULT_KINDS = ("429", "500", "502", "503", "504", "reset", "timeout", "html", "redirect", "expire")
AFTER_SUFFIX = "_after_write"
# Probabilities of PowerSchool's JSON quirks (1 = always, the default; 0 = never).
QUIRK_KEYS = ("single", "norecord")
RETRY_AFTER_FORMS = ("seconds", "date", "none")


@dataclass(frozen=True)
class Fault:
    """One decision for one request: `kind` from FAULT_KINDS, applied before or after the work."""

    kind: str
    after_write: bool = False

    @classmethod
    def parse(cls, text: str) -> Fault | None:
        """`"ok"` means no fault; otherwise a kind with an optional `_after_write` suffix."""
        name = text.strip().lower()
        if name in ("ok", "", "none"):
            return None
        after = name.endswith(AFTER_SUFFIX)
        kind = name[: -len(AFTER_SUFFIX)] if after else name
        if kind not in FAULT_KINDS:
            raise ConfigError(
                f"unknown fault '{text}' (known: {', '.join(FAULT_KINDS)}, each optionally "
                f"with {AFTER_SUFFIX}, or ok)",
                key="faults",
            )
        if after and kind == "expire":
            raise ConfigError("expire has no after-write form", key="faults")
        return cls(kind, after)

    @property
    def name(self) -> str:
        return self.kind + (AFTER_SUFFIX if self.after_write else "")


def parse_spec(spec: str) -> tuple[dict[str, float], dict[str, float]]:
    """Split a spec into (fault probabilities by name, quirk probabilities). Raises ConfigError."""
    faults: dict[str, float] = {}
    quirks: dict[str, float] = {}
    for part in (p.strip() for p in (spec or "").split(",")):
        if not part:
            continue
        name, sep, value = part.rpartition(":")
        if not sep or not name:
            raise ConfigError(f"'{part}' must be KIND:PROBABILITY", key="faults")
        try:
            prob = float(value)
        except ValueError:
            raise ConfigError(
                f"'{part}': probability '{value}' is not a number", key="faults"
            ) from None
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"'{part}': probability must be between 0 and 1", key="faults")
        key = name.strip().lower()
        if key in QUIRK_KEYS:
            quirks[key] = prob
        else:
            fault = Fault.parse(key)
            if fault is None:
                raise ConfigError(f"'{part}': 'ok' takes no probability", key="faults")
            faults[fault.name] = prob
    if sum(faults.values()) > 1.0 + 1e-9:
        raise ConfigError("fault probabilities add up to more than 1", key="faults")
    return faults, quirks


class FaultPlan:
    """The live fault plan of a running sandbox; thread-safe, changeable between test phases."""

    def __init__(self, spec: str = "", *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.probabilities, quirks = parse_spec(spec)
        self.quirks: dict[str, float] = {k: quirks.get(k, 1.0) for k in QUIRK_KEYS}
        self._script: list[Fault | None] = []
        self._path_prefix: str | None = None
        self._methods: frozenset[str] | None = None
        self.timeout_seconds = 1.5
        """How long a `timeout` fault holds the request: just above the client's read time-out."""
        self.retry_after_seconds = 1
        self.retry_after_forms: tuple[str, ...] = ("seconds", "date")
        self._retry_after_turn = 0
        self.injected: list[str] = []
        """Names of the faults injected so far, in order (for assertions)."""

    def __repr__(self) -> str:
        return (
            f"FaultPlan(probabilities={self.probabilities}, script={len(self._script)} left, "
            f"only={self._path_prefix!r}/{sorted(self._methods or [])})"
        )

    # -- configuring -------------------------------------------------------------------------

    def script(self, items: Iterable[str]) -> FaultPlan:
        """Queue one decision per matching request (`"ok"` for none); probabilities resume after."""
        parsed = [Fault.parse(i) for i in items]
        with self._lock:
            self._script.extend(parsed)
        return self

    def only(
        self, path_prefix: str | None = None, methods: Iterable[str] | None = None
    ) -> FaultPlan:
        """Limit faults (scripted and random) to requests on `path_prefix` with one of `methods`."""
        with self._lock:
            self._path_prefix = path_prefix
            self._methods = frozenset(m.upper() for m in methods) if methods else None
        return self

    def set(self, spec: str) -> FaultPlan:
        """Replace the probabilities (and quirks named in `spec`) with those of a new spec."""
        faults, quirks = parse_spec(spec)
        with self._lock:
            self.probabilities = faults
            self.quirks.update(quirks)
        return self

    def clear(self) -> FaultPlan:
        """No more faults: empty script, no probabilities, no filter (quirks are kept)."""
        with self._lock:
            self._script.clear()
            self.probabilities = {}
            self._path_prefix = None
            self._methods = None
        return self

    @property
    def pending(self) -> int:
        """Scripted decisions not yet used."""
        with self._lock:
            return len(self._script)

    # -- deciding ----------------------------------------------------------------------------

    def matches(self, method: str, path: str) -> bool:
        if self._methods is not None and method.upper() not in self._methods:
            return False
        return self._path_prefix is None or path.startswith(self._path_prefix)

    def decide(self, method: str, path: str) -> Fault | None:
        """The fault for this request, or None. Consumes one scripted entry when one applies."""
        with self._lock:
            if not self.matches(method, path):
                return None
            if self._script:
                fault = self._script.pop(0)
            else:
                fault = self._draw()
            if fault is not None:
                self.injected.append(fault.name)
            return fault

    def _draw(self) -> Fault | None:
        if not self.probabilities:
            return None
        roll = self._rng.random()
        for name, prob in self.probabilities.items():
            if roll < prob:
                return Fault.parse(name)
            roll -= prob
        return None

    def quirk(self, name: str) -> bool:
        """Whether to apply a JSON quirk to this response (drawn when its probability is < 1)."""
        prob = self.quirks.get(name, 1.0)
        if prob >= 1.0:
            return True
        if prob <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < prob

    def next_retry_after_form(self) -> str:
        """Alternate Retry-After between its forms (seconds, HTTP date, ...) from 429 to 429."""
        with self._lock:
            forms = self.retry_after_forms or ("none",)
            form = forms[self._retry_after_turn % len(forms)]
            self._retry_after_turn += 1
        if form not in RETRY_AFTER_FORMS:
            raise ConfigError(f"unknown Retry-After form '{form}'", key="faults")
        return form
