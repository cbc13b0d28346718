"""The model artifact: JSON metadata plus plain numeric arrays, never a pickle.

A model directory holds two files:

- ``sagegam-model.json``: format name and version, the versions that wrote it, task,
  family and link, feature names, classes, basis settings, fit statistics, the SHA-256 of
  the array file and a digest of the JSON content itself;
- ``sagegam-arrays.npz``: ``coef``, ``covariance``, ``lower``, ``upper``, ``n_basis``,
  read with ``allow_pickle=False``.

:func:`load` checks both digests, the format version and every array's shape before it
builds a :class:`~sagegam.model.predictor.GAMPredictor`; it imports numpy only.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from sagegam.model.basis import EXTRAPOLATIONS, SplineBasis
from sagegam.model.families import FAMILIES
from sagegam.model.predictor import GAMPredictor

FORMAT_NAME = "sagegam-gam"
FORMAT_VERSION = 1
METADATA_FILE = "sagegam-model.json"
ARRAYS_FILE = "sagegam-arrays.npz"
ARRAY_NAMES = ("coef", "covariance", "lower", "upper", "n_basis")


class ArtifactError(ValueError):
    """The directory does not hold a model this version of sagegam can load."""


def save(model: Any, directory: str | Path) -> Path:
    """Write a fitted estimator (or predictor) to ``directory``; returns the JSON path."""
    predictor = _as_predictor(model)
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **_arrays(predictor))
    array_bytes = buffer.getvalue()
    metadata = _metadata(predictor)
    metadata["arrays"] = {"file": ARRAYS_FILE, "sha256": hashlib.sha256(array_bytes).hexdigest()}
    metadata["digest"] = _digest(metadata)
    (target / ARRAYS_FILE).write_bytes(array_bytes)
    path = target / METADATA_FILE
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load(directory: str | Path) -> GAMPredictor:
    """Read a model directory written by :func:`save`, refusing anything altered."""
    folder = Path(directory)
    metadata = _read_metadata(folder / METADATA_FILE)
    recorded = metadata.get("arrays")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
        raise ArtifactError(f"{folder / METADATA_FILE} lacks 'arrays.sha256'; it is damaged.")
    arrays = _read_arrays(folder / ARRAYS_FILE, recorded["sha256"])
    return _build(metadata, arrays)


def _as_predictor(model: Any) -> GAMPredictor:
    if isinstance(model, GAMPredictor):
        return model
    predictor = getattr(model, "predictor_", None)
    if not isinstance(predictor, GAMPredictor):
        raise TypeError(f"Expected a fitted sagegam estimator or GAMPredictor; got {model!r}.")
    return predictor


def _arrays(predictor: GAMPredictor) -> dict[str, Any]:
    return {
        "coef": predictor.coef,
        "covariance": predictor.covariance,
        "lower": predictor.basis.lower,
        "upper": predictor.basis.upper,
        "n_basis": predictor.basis.n_basis,
    }


def _metadata(predictor: GAMPredictor) -> dict[str, Any]:
    from sagegam import __version__

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "written_by": {"sagegam": __version__, "numpy": np.__version__,
                       "python": platform.python_version()},
        "task": predictor.task,
        "family": predictor.family.name,
        "link": predictor.family.link,
        "feature_names": list(predictor.feature_names),
        "classes": None if predictor.classes is None else list(predictor.classes),
        "basis": {"kind": "uniform-bspline", "degree": predictor.basis.degree,
                  "extrapolation": predictor.basis.extrapolation, "penalty": "difference-2"},
        "info": _jsonable(predictor.info),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _digest(metadata: dict[str, Any]) -> str:
    content = {k: v for k, v in metadata.items() if k != "digest"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _read_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"No sagegam model at {path.parent}: {path.name} is missing.")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path} is not valid JSON ({error}); the file is damaged.") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ArtifactError(f"{path} is not a sagegam model (expected format {FORMAT_NAME!r}).")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ArtifactError(
            f"{path} has format version {version!r}; this sagegam reads versions 1 to "
            f"{FORMAT_VERSION}. Upgrade sagegam to load it.")
    if metadata.get("digest") != _digest(metadata):
        raise ArtifactError(f"{path} was altered after it was written (its digest does not "
                            "match its content); refusing to load it.")
    return metadata


def _read_arrays(path: Path, expected_sha256: str) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing next to {METADATA_FILE} in {path.parent}.")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ArtifactError(f"{path} is truncated or altered (its SHA-256 does not match the "
                            "one recorded in the metadata); refusing to load it.")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        missing = set(ARRAY_NAMES) - set(archive.files)
        if missing:
            raise ArtifactError(f"{path} lacks the arrays {sorted(missing)}.")
        return {name: archive[name] for name in ARRAY_NAMES}


def _build(metadata: dict[str, Any], arrays: dict[str, Any]) -> GAMPredictor:
    try:
        family = FAMILIES[metadata["family"]]
        basis_info = metadata["basis"]
        extrapolation = basis_info["extrapolation"]
        if extrapolation not in EXTRAPOLATIONS:
            raise ArtifactError(f"Unknown extrapolation {extrapolation!r} in the metadata.")
        basis = SplineBasis(arrays["lower"].astype(np.float64), arrays["upper"].astype(np.float64),
                            arrays["n_basis"].astype(np.int64), int(basis_info["degree"]),
                            extrapolation)
        names = tuple(str(n) for n in metadata["feature_names"])
        classes = metadata["classes"]
        predictor = GAMPredictor(basis, arrays["coef"].astype(np.float64),
                                 arrays["covariance"].astype(np.float64), family, names,
                                 None if classes is None else tuple(classes),
                                 dict(metadata.get("info", {})))
    except (KeyError, TypeError) as error:
        raise ArtifactError(f"The model metadata lacks or garbles {error}.") from None
    _check_shapes(predictor)
    return predictor


def _check_shapes(predictor: GAMPredictor) -> None:
    basis = predictor.basis
    p = len(predictor.feature_names)
    k = basis.n_columns
    problems = []
    if basis.lower.shape != (p,) or basis.upper.shape != (p,) or basis.n_basis.shape != (p,):
        problems.append(f"the basis arrays must hold {p} values, one per feature")
    if predictor.coef.shape != (k,):
        problems.append(f"coef must have {k} values, has shape {predictor.coef.shape}")
    if predictor.covariance.shape != (k, k):
        problems.append(f"covariance must be {k}x{k}, is {predictor.covariance.shape}")
    if predictor.classes is not None and len(predictor.classes) != 2:
        problems.append("a classifier must have exactly 2 classes")
    if problems:
        raise ArtifactError("Inconsistent model artifact: " + "; ".join(problems) + ".")
