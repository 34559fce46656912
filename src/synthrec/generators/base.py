"""The `Generator` protocol: anything that is fitted on a log and samples new synthetic users.

Generators never import `synthrec.models` (see DESIGN.md: dependency direction).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from synthrec import __version__
from synthrec._params import ParamsMixin
from synthrec.data.atomic import atomic_write
from synthrec.data.interactions import InteractionData, concat_users
from synthrec.errors import DataValidationError, NotFittedError
from synthrec.generators._logs import require_log
from synthrec.privacy.guarantee import PrivacyGuarantee

try:  # Python >= 3.11
    from typing import Self
except ImportError:  # pragma: no cover - Python 3.10
    from typing_extensions import Self


@runtime_checkable
class Generator(Protocol):
    """Fitted on one `InteractionData`, samples new synthetic users with histories over its catalogue."""

    def fit(self, data: InteractionData) -> Self: ...

    def sample(self, n_users: int, *, seed: int) -> InteractionData: ...

    def sample_batches(self, n_users: int, *, batch_users: int, seed: int) -> Iterator[InteractionData]: ...

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path, *, trusted: bool = False) -> Self: ...


class BaseGenerator(ParamsMixin):
    """Shared plumbing: batch streaming with per-batch seeds, persistence, fitted-state checks, and
    ``get_params`` (the constructor arguments, read back from the attributes of the same names).

    Subclasses implement `_fit(data)` and `_sample_block(n_users, rng, first_user)`. `fit` is the one
    template: mark the generator unfitted, check the log (`synthrec.generators._logs.require_log`),
    ``self._fit(data)``, then stamp what sampling needs (`_finish_fit`: ``item_ids_``, ``items_``,
    ``source_name_``, ``synthrec_version_``) and mark it fitted.

    Determinism: `sample_batches` derives the seed of batch *b* from
    ``numpy.random.SeedSequence(seed).spawn(n_batches)[b]``, so a batch's content depends only on
    ``(seed, batch_users, b)`` and never on how many workers produce the batches. `sample(n, seed)` is
    the same as concatenating ``sample_batches(n, batch_users=n, seed=seed)``.
    """

    #: Declared capability: the constructor takes ``epsilon`` and a finite ε gives a user-level (ε, δ)-DP
    #: fit whose spend ``privacy`` reports (checked by tests/test_generator_contract.py). Set by the class,
    #: never guessed from its signature.
    supports_dp: ClassVar[bool] = False

    _fitted: bool = False

    @property
    def emits_repeats(self) -> bool:
        """Declared capability: may a sampled user hold the same item more than once? False by default
        (every (user, item) pair at most once); a subclass whose output repeats pairs says so (a property,
        as it may depend on a parameter, e.g. `SequenceGenerator`'s ``allow_repeats``)."""
        return False

    @property
    def privacy(self) -> PrivacyGuarantee:
        """The fitted generator's differential-privacy guarantee (`PrivacyGuarantee`).

        Not DP by default: ε = ∞, δ = 0, no ledger. A ``supports_dp`` class returns what its DP fit spent.

        Raises:
            NotFittedError: before `fit`.
        """
        self._require_fitted()
        return PrivacyGuarantee.none()

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(data) first")

    def fit(self, data: InteractionData) -> Self:
        """Fit on a real log; returns ``self``, fitted.

        The template every generator shares: `require_log` (an `InteractionData` with interactions), then
        the subclass's `_fit`, then `_finish_fit`. A fit that raises leaves the generator unfitted.

        Raises:
            DataValidationError: ``data`` is not an `InteractionData` or has no interactions; or what the
                generator's `_fit` raises (a null rating, a missing users table, ...).
        """
        self._fitted = False
        require_log(data)
        self._fit(data)
        self._finish_fit(data)
        return self

    def _fit(self, data: InteractionData) -> None:  # pragma: no cover - abstract
        """Fit the model's parts on ``data`` (already checked by `fit`; the stamps come after)."""
        raise NotImplementedError

    def _finish_fit(self, data: InteractionData) -> None:
        """Keep what sampling needs of the fitted log (its catalogue, items table and name) and the synthrec
        version that fitted it; mark fitted."""
        self.item_ids_ = data.item_ids
        self.items_ = data.items
        # The file name only: a model file may cross to a partner, and a local folder path is not theirs to see.
        self.source_name_ = _display_name(data.name)
        self.synthrec_version_ = __version__
        self._fitted = True

    def _sample_block(self, n_users: int, rng: np.random.Generator, first_user: int) -> InteractionData:
        raise NotImplementedError

    def sample(self, n_users: int, *, seed: int) -> InteractionData:
        """Draw ``n_users`` new synthetic users; same seed, same output."""
        parts = list(self.sample_batches(n_users, batch_users=max(n_users, 1), seed=seed))
        return parts[0] if len(parts) == 1 else concat_users(parts, name=parts[0].name)

    def sample_batches(self, n_users: int, *, batch_users: int, seed: int) -> Iterator[InteractionData]:
        """Yield synthetic users in batches of at most ``batch_users`` (the last may be smaller)."""
        self._require_fitted()
        if n_users < 0 or batch_users < 1:
            raise ValueError("n_users must be >= 0 and batch_users >= 1")
        n_batches = max(1, -(-n_users // batch_users))
        seeds = np.random.SeedSequence(seed).spawn(n_batches)
        for b, ss in enumerate(seeds):
            size = min(batch_users, n_users - b * batch_users)
            yield self._sample_block(size, np.random.default_rng(ss), b * batch_users)

    def save(self, path: str | Path) -> None:
        """Write the generator to ``path`` as a synthrec model file, atomically.

        The file (`synthrec.generators._model_file`: a ZIP of a JSON header, a JSON state tree and numeric
        arrays) runs no code when loaded, so it may be handed to a partner; the same generator always
        gives the same bytes. Any suffix works; ``.synthrec`` is the convention.

        Raises:
            TypeError: the generator holds a value the format cannot store (the message names it).
            DataValidationError: ``path`` is a folder.
            NotFittedError: the generator is not fitted (a model file always holds a fitted generator).
        """
        from synthrec.generators._model_file import model_bytes

        if not self._fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: fit it on a log before saving it "
                                 "(`synthrec fit` fits and saves in one step)")
        data = model_bytes(self)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))

    @classmethod
    def load(cls, path: str | Path, *, trusted: bool = False) -> Self:
        """Read a generator written by `save`, without running any code the file names.

        A file saved by another synthrec version loads with a
        `synthrec.generators._model_file.ModelFileVersionWarning`. A pickle (what synthrec saved before
        the model file format) is refused unless ``trusted=True``: unpickling runs whatever code the file
        says, so pass it only for a file you or someone you trust wrote — or re-save it in the new format.

        Raises:
            DataValidationError: the file is missing, is a pickle and ``trusted`` is false, is not a saved
                generator, is damaged, or holds another class than ``cls``.
        """
        from synthrec.generators._model_file import looks_like_model_file, looks_like_pickle, read_model

        path = Path(path)
        if path.is_dir():
            raise DataValidationError("is a folder, not a model file", source=str(path),
                                      hint="give the file `synthrec fit` saved, e.g. generator.synthrec")
        if not path.is_file():
            raise DataValidationError("no such file", source=str(path),
                                      hint="give the path of a generator saved by `synthrec fit`")
        with path.open("rb") as fh:
            head = fh.read(8)
        if looks_like_model_file(head):
            obj = read_model(path)
        elif not trusted and looks_like_pickle(head):
            raise DataValidationError(
                "is a pickle (an old synthrec save, or not a synthrec file at all); loading a pickle can run "
                "any code its author chose, so it is refused", source=str(path),
                hint="fit again with `synthrec fit` on the data, or convert it once in Python if you trust "
                     "whoever wrote it: BaseGenerator.load(path, trusted=True).save(new_path); pass --trusted / "
                     "trusted=True only for a file from someone you trust",
            )
        elif not trusted:
            raise DataValidationError("not a synthrec model file, or a damaged one", source=str(path),
                                      hint="give the path of a generator saved by `synthrec fit`")
        else:  # legacy pickle, trusted by the caller
            try:
                with path.open("rb") as fh:
                    obj = pickle.load(fh)
            except Exception as exc:  # any unpickling failure means: not one of our files, or damaged
                raise DataValidationError(
                    f"not a generator saved by synthrec, or a damaged file ({type(exc).__name__}: {exc})",
                    source=str(path), hint="re-run `synthrec fit` to write it again",
                ) from None
        if not isinstance(obj, cls):
            raise DataValidationError(f"holds {_a(type(obj).__name__)}, not {_a(cls.__name__)}", source=str(path),
                                      hint="give the path of a generator saved by `synthrec fit`")
        if isinstance(obj, BaseGenerator):
            _check_loaded(obj, path)
        return obj


def _a(noun: str) -> str:
    """``noun`` with its indefinite article ("an ItemWalkGenerator", "a dict")."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _display_name(name: str) -> str:
    """A log's name without its folders (``/home/me/data/u.data`` → ``u.data``); other names as they are."""
    text = str(name)
    return Path(text).name or text if ("/" in text or "\\" in text) else text


def _check_loaded(obj: BaseGenerator, path: Path) -> None:
    """Refuse a loaded generator that cannot sample: unfitted, or missing a constructor parameter (a file
    written by another version, or edited), with an error naming the file rather than a crash later."""
    from synthrec._params import param_names

    if not obj._fitted:
        raise DataValidationError(f"holds an unfitted {type(obj).__name__}", source=str(path),
                                  hint="fit the generator on a log and save it again (`synthrec fit`)")
    missing = [p for p in param_names(type(obj)) if p not in vars(obj)]
    if missing:
        raise DataValidationError(
            f"holds {_a(type(obj).__name__)} without its parameter(s) {', '.join(missing)}: written by an "
            "incompatible synthrec version, or edited", source=str(path),
            hint="fit it again with this synthrec version (`synthrec fit`)")
    _check_samples(obj, path)


#: what a state whose parts do not fit together raises when sampled (arrays of the wrong shape, a missing
#: or mistyped entry); anything else is a bug of ours and is left to surface as it is
_MISFIT_ERRORS = (ValueError, IndexError, KeyError, TypeError, AttributeError, RuntimeError)


def _check_samples(obj: BaseGenerator, path: Path) -> None:
    """Refuse a loaded generator that cannot draw a user: a file whose arrays were edited or damaged in a
    way the format cannot see (each array is well formed, but their shapes do not fit together).

    Done at load, by drawing two users from a fixed seed, so that every command fails before it writes
    anything (`generate` would otherwise leave an empty output folder, `report` would accept the file).
    The draw is a few milliseconds for every registered generator and does not touch the generator's
    state: sampling is a pure function of the fitted state and the seed. A generator that samples by its
    own route (the scenario `Simulator`, whose file is a scenario rebuilt by validation) is not drawn
    from here."""
    if type(obj)._sample_block is BaseGenerator._sample_block:
        return
    try:
        obj._sample_block(2, np.random.default_rng(0), 0)
    except _MISFIT_ERRORS as exc:
        raise DataValidationError(
            f"holds {_a(type(obj).__name__)} that cannot sample: its parts do not fit together "
            f"({type(exc).__name__}: {exc})", source=str(path),
            hint="the file is damaged or was edited: fit the generator again (`synthrec fit`)") from None
