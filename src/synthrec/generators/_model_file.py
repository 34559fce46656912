"""The saved model file of a fitted generator: a versioned archive that cannot run code when read.

A fitted generator is the file meant to cross from the team that holds the real log to a partner, so
reading one must never execute anything the file names. A pickle does exactly that (its ``__reduce__``
calls any importable function), so `BaseGenerator.save` writes this format instead and
`BaseGenerator.load` refuses pickles unless the caller trusts who wrote them.

Layout (format ``synthrec-model``, version 1): one ZIP archive whose members are, in this order,

* ``header.json`` — ``{"format": "synthrec-model", "format_version": 1, "synthrec_version": "0.1.0",
  "class": "synthrec.generators.latent_factor.LatentFactorGenerator", "generator": "latent-factor",
  "privacy": {"epsilon": 1.0, "delta": 1e-05} | null}`` (``generator`` is the registry name, null for
  an unregistered class; ``privacy`` is the ε and δ of its `synthrec.privacy.PrivacyGuarantee`, null when
  ε is infinite, i.e. the fit is not DP; `read_model` refuses a file whose ``privacy`` is not its state's,
  so the header of a file synthrec accepts can be read alone);
* ``state.json`` — the state tree (below);
* ``arrays/NNNNNN.npy`` — numeric arrays, read back with ``np.load(..., allow_pickle=False)``;
* ``frames/NNNNNN.arrow`` — polars frames, series and data types as Arrow IPC files.

The bytes are deterministic: members in a fixed order, every timestamp 1980-01-01 00:00, fixed
attributes, JSON with sorted set elements and no whitespace; JSON is deflated, arrays and frames are
stored uncompressed (so their bytes do not depend on the zlib version). The same fitted generator
always gives the same file, which is what `synthrec.scale.manifest.model_checksum` relies on.

State tree: JSON ``null``, booleans, integers, strings and lists stand for themselves, a finite float
for itself; everything else is an object tagged by ``"$"``: ``float`` (inf / nan), ``tuple``, ``set``,
``frozenset``, ``dict`` / ``odict`` (``map`` for string keys, ``items`` pairs otherwise), ``bytes``,
``ndarray`` and ``npscalar``, ``tensor`` (a torch tensor: an array and its torch dtype), ``rng`` (a
numpy ``Generator``: bit generator name and state), ``series`` / ``frame`` / ``pldtype`` (polars), and
``object``: an instance of one of our classes, ``{"$": "object", "class": "synthrec.mod.Class",
"state": …}``. Decoding such a node imports the class only when its module starts with ``synthrec.``
and it is a `BaseGenerator` subclass or listed in `ALLOWED_CLASSES` (or added with
`allow_in_model_file`); it builds the instance with ``cls.__new__(cls)`` and hands it its state via
``__setstate__`` (when the class defines one) or ``__dict__.update`` — no constructor runs, and no
other callable named by the file is ever looked up. Anything else is refused with
`DataValidationError`.

Why a tagged JSON tree rather than, say, one ``np.savez`` of attributes: the fitted state of our
generators is nested (mixture models, quantile tables, ledgers, torch state dicts inside dicts), and a
tree keeps that shape without per-class save code, while every leaf that is bulk data still goes to a
binary member that a reader without Python could open. Saving walks the state the same way pickle
would (``__getstate__`` when the class defines one, else ``__dict__``), so classes that already reduce
their torch networks to CPU state dicts for pickle are saved the same way here; a value of a type the
format does not know raises a TypeError that names its attribute path (``generator.user_model_.means``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import sys
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from synthrec.errors import DataValidationError
from synthrec.privacy.guarantee import PrivacyGuarantee

FORMAT_NAME = "synthrec-model"
FORMAT_VERSION = 1
#: the suggested suffix of a saved generator (any other suffix is accepted)
MODEL_SUFFIX = ".synthrec"
HEADER_MEMBER = "header.json"
STATE_MEMBER = "state.json"
_ZIP_MAGIC = b"PK\x03\x04"
_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: largest JSON member read (a crafted archive must not make us inflate gigabytes of JSON)
_MAX_JSON_BYTES = 1 << 30

#: Classes of ours, beyond `BaseGenerator` subclasses, whose instances a model file may hold: the
#: fitted parts of the registered generators (found by the conformance test of tests/test_model_file.py).
ALLOWED_CLASSES: set[str] = {
    "synthrec.generators._gmm.GaussianMixture",
    "synthrec.generators._ratings.RatingModel",
    "synthrec.generators._sampling.EmpiricalQuantiles",
    "synthrec.generators._timestamps.OrderModel",
    "synthrec.generators._timestamps.TimeModel",
    "synthrec.generators._walk.WalkModel",
    "synthrec.generators._latent_factor_dp.ItemStatistics",
    "synthrec.generators.gan.CollapseReport",
    "synthrec.generators.attributes.CategoricalMarginal",
    "synthrec.generators.attributes.NumericMarginal",
    "synthrec.generators.attributes.GaussianCopulaSynthesizer",
    "synthrec.generators.simulator.generator.Simulator",  # not registered; its state is its scenario as JSON
    "synthrec.privacy.ledger.PrivacyLedger",
    "synthrec.privacy.ledger.GaussianSpend",
    "synthrec.privacy.ledger.PureSpend",
}

#: numpy bit generators a saved ``Generator`` may use (looked up in ``numpy.random`` by these names only)
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_DOTTED = re.compile(r"synthrec(\.[A-Za-z_][A-Za-z0-9_]*)+")
_MEMBER = re.compile(r"(arrays/[0-9]{6}\.npy|frames/[0-9]{6}\.arrow)")

T = TypeVar("T", bound=type)


class ModelFileVersionWarning(UserWarning):
    """A model file written by another synthrec version was loaded (it may sample differently)."""


def allow_in_model_file(cls: T) -> T:
    """Class decorator: let instances of ``cls`` (a class of ours) be saved in and read from model files."""
    if not cls.__module__.startswith("synthrec."):
        raise TypeError(f"only synthrec classes can be allowed in a model file, not {cls.__module__}")
    ALLOWED_CLASSES.add(f"{cls.__module__}.{cls.__qualname__}")
    return cls


def class_path(cls: type) -> str:
    """``module.QualName`` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


# ---------------------------------------------------------------------------------------------- writing


_BASE_GENERATOR = "synthrec.generators.base.BaseGenerator"


def _is_base_generator(cls: type) -> bool:
    """Is ``cls`` a `BaseGenerator` subclass (by class path: base imports this module, not the reverse)."""
    return any(class_path(k) == _BASE_GENERATOR for k in cls.__mro__)


def _allowed(cls: type) -> bool:
    name = class_path(cls)
    return name.startswith("synthrec.") and (name in ALLOWED_CLASSES or _is_base_generator(cls))


def _own_getstate(cls: type) -> bool:
    return any("__getstate__" in vars(k) for k in cls.__mro__ if k is not object)


def _own_setstate(cls: type) -> bool:
    return any("__setstate__" in vars(k) for k in cls.__mro__ if k is not object)


def _finite_or_tag(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {"$": "float", "value": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


class _Encoder:
    """Walks a state, building the JSON tree and collecting binary members in encounter order."""

    def __init__(self) -> None:
        self.members: list[tuple[str, bytes]] = []
        self._n_arrays = 0
        self._n_frames = 0

    def _array_member(self, arr: np.ndarray, path: str) -> str:
        if arr.dtype.hasobject:
            raise TypeError(f"{path}: numpy array of dtype {arr.dtype} holds Python objects; a model file "
                            "stores numeric, boolean or string arrays only")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr) if arr.ndim else arr, allow_pickle=False)
        name = f"arrays/{self._n_arrays:06d}.npy"
        self._n_arrays += 1
        self.members.append((name, buf.getvalue()))
        return name

    def _frame_member(self, frame: Any, path: str) -> str:
        buf = io.BytesIO()
        try:
            frame.write_ipc(buf, compression="uncompressed")
        except Exception as exc:  # e.g. an Object column
            raise TypeError(f"{path}: polars data cannot be written as Arrow IPC ({exc})") from None
        name = f"frames/{self._n_frames:06d}.arrow"
        self._n_frames += 1
        self.members.append((name, buf.getvalue()))
        return name

    def encode(self, obj: Any, path: str) -> Any:
        t = type(obj)
        if obj is None or t in (bool, int, str):  # subclasses (enums...) are not plain data
            return obj
        if t is float:
            return _finite_or_tag(obj)
        if t is list:
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if t is tuple:
            return {"$": "tuple", "items": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if t in (set, frozenset):
            items = [self.encode(v, f"{path}{{…}}") for v in obj]
            items.sort(key=lambda e: json.dumps(e, sort_keys=True))
            return {"$": t.__name__, "items": items}
        if t in (dict, OrderedDict):
            return self._encode_dict(obj, path, "dict" if t is dict else "odict")
        if t is bytes:
            return {"$": "bytes", "b64": base64.b64encode(obj).decode("ascii")}
        if t is np.ndarray:
            return {"$": "ndarray", "member": self._array_member(obj, path)}
        if isinstance(obj, np.generic):
            return self._encode_numpy_scalar(obj, path)
        if t is np.random.Generator:
            bg = obj.bit_generator
            name = type(bg).__name__
            if name not in _BIT_GENERATORS or type(bg) is not getattr(np.random, name):
                raise TypeError(f"{path}: numpy Generator over {type(bg).__name__}, not one of "
                                f"{', '.join(_BIT_GENERATORS)}")
            return {"$": "rng", "bit_generator": name, "state": self.encode(bg.state, f"{path}.bit_generator")}
        polars = sys.modules.get("polars")
        if polars is not None:
            if t is polars.Series:
                return {"$": "series", "member": self._frame_member(obj.to_frame(), path)}
            if t is polars.DataFrame:
                return {"$": "frame", "member": self._frame_member(obj, path)}
            if isinstance(obj, polars.DataType) or (isinstance(obj, type) and issubclass(obj, polars.DataType)):
                try:
                    empty = polars.Series("dtype", [], dtype=obj).to_frame()
                except Exception as exc:  # pragma: no cover - a dtype polars cannot build a series of
                    raise TypeError(f"{path}: polars data type {obj!r} cannot be stored ({exc})") from None
                return {"$": "pldtype", "member": self._frame_member(empty, path)}
        torch = sys.modules.get("torch")  # no tensor can exist unless torch was imported
        if torch is not None and t is torch.Tensor:
            return self._encode_tensor(obj, path, torch)
        if isinstance(obj, type):
            raise TypeError(f"{path}: a class ({class_path(obj)}) cannot be stored in a model file")
        if not _allowed(t):
            raise TypeError(
                f"{path}: cannot store a {class_path(t)} in a synthrec model file; only plain data (numbers, "
                "strings, lists, tuples, dicts, sets, numpy arrays, polars frames, torch tensors) and "
                "allow-listed synthrec classes (synthrec.generators._model_file.ALLOWED_CLASSES) can be saved")
        if _own_getstate(t):
            state = obj.__getstate__()
        else:
            if not hasattr(obj, "__dict__") or getattr(t, "__slots__", None):
                raise TypeError(f"{path}: {class_path(t)} has __slots__ and no __getstate__; not supported")
            state = obj.__dict__
        if not (type(state) is dict and all(type(k) is str for k in state)):
            raise TypeError(f"{path}: the state of {class_path(t)} must be a dict with string keys, got "
                            f"{type(state).__name__}")
        return {"$": "object", "class": class_path(t),
                "state": {k: self.encode(v, f"{path}.{k}") for k, v in state.items()}}

    def _encode_dict(self, obj: Mapping[Any, Any], path: str, tag: str) -> dict[str, Any]:
        if all(type(k) is str for k in obj):
            return {"$": tag, "map": {k: self.encode(v, f"{path}[{k!r}]") for k, v in obj.items()}}
        return {"$": tag, "items": [[self.encode(k, f"{path}<key {k!r}>"), self.encode(v, f"{path}[{k!r}]")]
                                    for k, v in obj.items()]}

    def _encode_numpy_scalar(self, obj: np.generic, path: str) -> dict[str, Any]:
        dt = obj.dtype
        if dt.kind in "biuf" and dt.itemsize <= 8:
            value = obj.item()
            return {"$": "npscalar", "dtype": dt.str,
                    "value": _finite_or_tag(value) if isinstance(value, float) else value}
        return {"$": "npscalar", "member": self._array_member(np.asarray(obj), path)}

    def _encode_tensor(self, obj: Any, path: str, torch: Any) -> dict[str, Any]:
        t = obj.detach().to("cpu")
        dtype = str(t.dtype).removeprefix("torch.")
        if t.dtype == torch.bfloat16:
            arr = t.contiguous().view(torch.int16).numpy()
        else:
            try:
                arr = t.contiguous().numpy()
            except (TypeError, RuntimeError) as exc:
                raise TypeError(f"{path}: torch tensor of dtype {t.dtype} cannot be stored ({exc})") from None
        return {"$": "tensor", "dtype": dtype, "member": self._array_member(arr, path)}


def _privacy_header(generator: object) -> dict[str, float] | None:
    """``{"epsilon", "delta"}`` of the generator's `PrivacyGuarantee` when it is DP (finite ε), else None."""
    try:
        privacy = getattr(generator, "privacy", None)
    except Exception:  # e.g. NotFittedError from the property: no guarantee to record
        return None
    if not isinstance(privacy, PrivacyGuarantee) or not privacy.is_dp:
        return None
    return {"epsilon": privacy.epsilon, "delta": privacy.delta}


def _check_header_privacy(header: dict[str, Any], obj: object) -> None:
    """The header's ``privacy`` must be the guarantee the state gives: a tool that reads only the header
    (`read_header`, a partner's script) must not be told ε = 1 by a file whose state spent ε = 8. Compared
    to a relative 1e-9, as ε is recomputed from the ledger by the accountant, whose last digits may move
    between library versions."""
    if not getattr(obj, "_fitted", False):
        return  # an unfitted state has no guarantee; `BaseGenerator.load` refuses it by name
    said, held = header.get("privacy"), _privacy_header(obj)
    if said is None and held is None:
        return
    if (isinstance(said, dict) and held is not None
            and all(isinstance(said.get(k), (int, float)) and not isinstance(said.get(k), bool)
                    and math.isclose(float(said[k]), held[k], rel_tol=1e-9, abs_tol=0.0) for k in held)):
        return
    raise _Bad(f"its header states privacy {said!r} but its state gives {held!r}: the header was edited, or "
               f"the file was written by a synthrec that accounts differently ({header.get('synthrec_version')})")


def _registry_name(cls: type) -> str | None:
    """The registry name of ``cls``, without importing the other generators' modules (torch is slow).

    The registry is read from ``sys.modules``, not imported: it imports `base`, which imports this
    module. It is always there once a generator class exists, as ``synthrec.generators/__init__``
    imports it with the package.
    """
    registry = sys.modules.get("synthrec.generators.registry")
    if registry is None:  # pragma: no cover - the package imports it
        return None
    target = class_path(cls)
    entries = getattr(registry.GENERATORS, "_entries", {})
    for name, entry in entries.items():
        if entry is cls or (isinstance(entry, str) and entry.replace(":", ".") == target):
            return str(name)
    return None


def _zip_info(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_DATE_TIME)
    info.compress_type = compress
    info.create_system = 3  # the same bytes on every OS
    info.external_attr = 0o100644 << 16
    return info


def model_bytes(generator: object) -> bytes:
    """The bytes of ``generator``'s model file (what `BaseGenerator.save` writes); deterministic.

    Raises:
        TypeError: the generator's state holds a value the format cannot store; names its attribute path.
    """
    import synthrec

    cls = type(generator)
    if not _allowed(cls):
        raise TypeError(f"generator: {class_path(cls)} is not a synthrec generator")
    encoder = _Encoder()
    tree = encoder.encode(generator, "generator")
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "synthrec_version": synthrec.__version__,
        "class": class_path(cls),
        "generator": _registry_name(cls),
        "privacy": _privacy_header(generator),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(_zip_info(HEADER_MEMBER, zipfile.ZIP_DEFLATED),
                    json.dumps(header, indent=1, allow_nan=False) + "\n", compresslevel=6)
        zf.writestr(_zip_info(STATE_MEMBER, zipfile.ZIP_DEFLATED),
                    json.dumps(tree, separators=(",", ":"), allow_nan=False, ensure_ascii=False),
                    compresslevel=6)
        for name, data in encoder.members:
            zf.writestr(_zip_info(name, zipfile.ZIP_STORED), data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- reading


def looks_like_model_file(head: bytes) -> bool:
    """True when ``head`` (a file's first bytes) starts a ZIP archive, as a model file does."""
    return head.startswith(_ZIP_MAGIC)


def looks_like_pickle(head: bytes) -> bool:
    """True when ``head`` starts like a pickle of protocol 2 or later (a PROTO opcode), as old saves did."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


class _Bad(Exception):
    """A model file breaks the format; the message says how (turned into a DataValidationError)."""


class _Refused(_Bad):
    """A model file asks for something a model file may not hold (a foreign class, an object array)."""


def _importable(module_name: str) -> bool:
    """May decoding import ``module_name``: already imported, or the module of an allow-listed class or of
    a registered generator? (A file never gets an arbitrary synthrec module imported.)"""
    if module_name in sys.modules:
        return True
    if any(n.rpartition(".")[0] == module_name for n in ALLOWED_CLASSES):
        return True
    registry = sys.modules.get("synthrec.generators.registry")
    entries = getattr(getattr(registry, "GENERATORS", None), "_entries", {})
    return any(isinstance(e, str) and e.partition(":")[0] == module_name for e in entries.values())


def _resolve_class(name: object) -> type[Any]:
    """The allow-listed class named ``name``; refuses anything else before importing it if it can."""
    if not isinstance(name, str) or not _DOTTED.fullmatch(name):
        raise _Refused(f"it names the class {name!r}, which is not a synthrec class; a model file may only "
                       "hold synthrec generators and their allow-listed parts")
    module_name, _, qualname = name.rpartition(".")
    listed = name in ALLOWED_CLASSES
    if not _importable(module_name):
        raise _Refused(f"it names {name!r}, which is not a synthrec generator or an allow-listed part of "
                       "one")
    try:
        module = import_module(module_name)
    except ImportError:  # pragma: no cover - an allow-listed module that was removed
        raise _Refused(f"it names the class {name!r}, whose module does not exist in this synthrec") from None
    cls = getattr(module, qualname, None)
    if not isinstance(cls, type) or class_path(cls) != name or not (listed or _is_base_generator(cls)):
        raise _Refused(f"it names {name!r}, which is not a synthrec generator or an allow-listed part of "
                       "one")
    return cls


class _Decoder:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self._names = set(zf.namelist())

    def _member(self, name: object) -> bytes:
        if not isinstance(name, str) or not _MEMBER.fullmatch(name) or name not in self._names:
            raise _Bad(f"the state refers to a missing or malformed member {name!r}")
        return self.zf.read(name)

    def _array(self, name: object) -> np.ndarray:
        try:
            arr = np.load(io.BytesIO(self._member(name)), allow_pickle=False)
        except ValueError as exc:  # object arrays need allow_pickle: refused
            raise _Refused(f"member {name} is not a plain numeric array ({exc})") from None
        if not isinstance(arr, np.ndarray):  # pragma: no cover - np.load of a .npy gives an array
            raise _Bad(f"member {name} is not an array")
        return arr

    def _frame(self, name: object) -> Any:
        import polars as pl

        try:
            return pl.read_ipc(io.BytesIO(self._member(name)))
        except _Bad:
            raise
        except Exception as exc:
            raise _Bad(f"member {name} is not an Arrow IPC file ({type(exc).__name__}: {exc})") from None

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):  # pragma: no cover - json gives nothing else
            raise _Bad(f"unexpected JSON value {node!r}")
        tag = node.get("$")
        if tag == "float":
            value = node.get("value")
            if value not in ("inf", "-inf", "nan"):
                raise _Bad(f"bad float {value!r}")
            return float(value)
        if tag in ("tuple", "set", "frozenset"):
            items = [self.decode(v) for v in _list(node, "items")]
            return tuple(items) if tag == "tuple" else (set(items) if tag == "set" else frozenset(items))
        if tag in ("dict", "odict"):
            out: dict[Any, Any] = {} if tag == "dict" else OrderedDict()
            if "map" in node:
                mapping = node["map"]
                if not isinstance(mapping, dict):
                    raise _Bad("a dict node's map is not an object")
                for k, v in mapping.items():
                    out[k] = self.decode(v)
            else:
                for pair in _list(node, "items"):
                    if not isinstance(pair, list) or len(pair) != 2:
                        raise _Bad("a dict item is not a [key, value] pair")
                    out[self.decode(pair[0])] = self.decode(pair[1])
            return out
        if tag == "bytes":
            return base64.b64decode(str(node.get("b64", "")), validate=True)
        if tag == "ndarray":
            return self._array(node.get("member"))
        if tag == "npscalar":
            if "member" in node:
                arr = self._array(node["member"])
                if arr.ndim != 0:
                    raise _Bad("a numpy scalar member is not 0-dimensional")
                return arr[()]
            dt = np.dtype(_simple_dtype(node.get("dtype")))
            return dt.type(self.decode(node.get("value")))
        if tag == "tensor":
            return self._tensor(node)
        if tag == "rng":
            name = node.get("bit_generator")
            if name not in _BIT_GENERATORS:
                raise _Bad(f"unknown bit generator {name!r}")
            bg = getattr(np.random, name)()
            bg.state = self.decode(node.get("state"))
            return np.random.Generator(bg)
        if tag == "series":
            frame = self._frame(node.get("member"))
            if frame.width != 1:
                raise _Bad("a series member does not hold exactly one column")
            return frame.to_series(0)
        if tag == "frame":
            return self._frame(node.get("member"))
        if tag == "pldtype":
            frame = self._frame(node.get("member"))
            if frame.width != 1:
                raise _Bad("a data-type member does not hold exactly one column")
            return frame.dtypes[0]
        if tag == "object":
            cls = _resolve_class(node.get("class"))
            state = node.get("state")
            if not isinstance(state, dict):
                raise _Bad(f"the state of {node.get('class')} is not an object")
            decoded = {k: self.decode(v) for k, v in state.items()}
            new: Any = cls.__new__  # never the constructor: no __init__ runs
            obj = new(cls)
            if _own_setstate(cls):
                obj.__setstate__(decoded)
            else:
                obj.__dict__.update(decoded)
            return obj
        raise _Bad(f"unknown node type {tag!r}")

    def _tensor(self, node: dict[str, Any]) -> Any:
        try:
            import torch
        except ImportError:
            raise DataValidationError("this generator holds torch networks and torch is not installed",
                                      hint="pip install torch (or synthrec[deep])") from None
        dtype_name = node.get("dtype")
        dtype = getattr(torch, dtype_name, None) if isinstance(dtype_name, str) and dtype_name.isidentifier() else None
        if not isinstance(dtype, torch.dtype):
            raise _Bad(f"unknown torch dtype {dtype_name!r}")
        arr = self._array(node.get("member"))
        if dtype == torch.bfloat16:
            if arr.dtype != np.int16:
                raise _Bad("a bfloat16 tensor is not stored as int16")
            return torch.from_numpy(arr).view(torch.bfloat16)
        tensor = torch.from_numpy(arr)
        if tensor.dtype != dtype:
            raise _Bad(f"a {dtype_name} tensor is stored as {arr.dtype}")
        return tensor


def _list(node: dict[str, Any], key: str) -> list[Any]:
    value = node.get(key)
    if not isinstance(value, list):
        raise _Bad(f"a {node.get('$')} node lacks its {key} list")
    return value


def _simple_dtype(text: object) -> str:
    if not isinstance(text, str) or not re.fullmatch(r"[<>|=]?[biuf][1248]", text):
        raise _Bad(f"bad numpy scalar dtype {text!r}")
    return text


def _read_json(zf: zipfile.ZipFile, name: str) -> Any:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _Bad(f"it lacks the member {name}") from None
    if info.file_size > _MAX_JSON_BYTES:
        raise _Bad(f"its member {name} is implausibly large ({info.file_size:,} bytes)")
    return json.loads(zf.read(name).decode("utf-8"))


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a model file (format, versions, class, registry name, privacy); reads nothing else.

    Raises:
        DataValidationError: the file is not a synthrec model file, or is damaged.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _checked_header(zf)
    except _Bad as exc:
        raise _damaged(path, str(exc)) from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _damaged(path, f"{type(exc).__name__}: {exc}") from None


def _checked_header(zf: zipfile.ZipFile) -> dict[str, Any]:
    header = _read_json(zf, HEADER_MEMBER)
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _Bad(f"its header does not name the format {FORMAT_NAME!r}")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _Bad(f"its header has no format version ({version!r})")
    if version > FORMAT_VERSION:
        raise _Newer(version, header.get("synthrec_version"))
    if version < 1:
        raise _Bad(f"unknown format version {version}")
    return header


class _Newer(_Bad):
    def __init__(self, version: int, by: object) -> None:
        super().__init__(f"it is format version {version} (written by synthrec {by}); this synthrec reads "
                         f"version {FORMAT_VERSION} and older")


def _damaged(path: Path, why: str) -> DataValidationError:
    return DataValidationError(f"not a synthrec model file, or a damaged one ({why})", source=str(path),
                               hint="re-run `synthrec fit` to write it again")


def read_model(path: str | Path, *, warn: Callable[[str], None] | None = None) -> object:
    """Build the generator stored in the model file at ``path``; runs no code the file names.

    Warns `ModelFileVersionWarning` when another synthrec version wrote the file (``warn`` overrides how).

    Raises:
        DataValidationError: the file is not a model file, is damaged, is of a newer format, or names a
            class outside synthrec's allow-list or an object array (the message names the file).
    """
    import synthrec

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            header = _checked_header(zf)
            by = header.get("synthrec_version")
            if by != synthrec.__version__:
                message = (f"{path} was saved by synthrec {by}; this is synthrec {synthrec.__version__}: it "
                           "loads, but may sample differently — re-fit with this version for the same output")
                if warn is not None:
                    warn(message)
                else:
                    warnings.warn(message, ModelFileVersionWarning, stacklevel=3)
            tree = _read_json(zf, STATE_MEMBER)
            if not isinstance(tree, dict) or tree.get("$") != "object":
                raise _Bad("its state is not a generator")
            if tree.get("class") != header.get("class"):
                raise _Bad(f"its state holds {tree.get('class')!r} but its header says {header.get('class')!r}")
            obj = _Decoder(zf).decode(tree)
            _check_header_privacy(header, obj)
    except _Bad as exc:
        if isinstance(exc, _Newer):
            raise DataValidationError(str(exc), source=str(path),
                                      hint="upgrade synthrec to read it, or re-fit with this version") from None
        if isinstance(exc, _Refused):
            raise DataValidationError(
                f"refused to load: {exc}", source=str(path),
                hint="`synthrec fit` never writes this: the file was made or altered by someone else; ask its "
                     "source for a file saved by synthrec") from None
        raise _damaged(path, str(exc)) from None
    except RecursionError:
        raise _damaged(path, "its state is nested too deeply") from None
    except DataValidationError:
        raise
    except Exception as exc:  # any other failure to rebuild it means: not one of our files, or damaged
        raise _damaged(path, f"{type(exc).__name__}: {exc}") from None
    return obj
