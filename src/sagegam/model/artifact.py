"""The model artifact: JSON metadata plus plain numeric arrays, never a pickle.

A model directory holds two files:

- ``sagegam-model.json``: format name and version, the versions that wrote it, task,
  family and link, the input features (numeric or categorical, with a categorical
  feature's levels in code order), the terms (each one's kind and basis settings),
  classes, fit statistics, the SHA-256 of the array file and a digest of the JSON
  content itself;
- ``sagegam-arrays.npz``: ``coef`` (intercept, then each term's coefficients) and
  ``covariance``, read with ``allow_pickle=False``.

:func:`load` checks both digests, the format version and every array's shape before it
builds a :class:`~sagegam.model.predictor.GAMPredictor`; it imports numpy only. Version 1
artifacts (numeric features, one smooth each) still load.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from sagegam.model.basis import EXTRAPOLATIONS
from sagegam.model.families import FAMILIES
from sagegam.model.predictor import GAMPredictor
from sagegam.model.schema import HANDLE_UNKNOWN, OFFSET_KINDS, Feature, Schema
from sagegam.model.terms import FactorMargin, SplineMargin, SplineTerm, Term, term_from_spec

FORMAT_NAME = "sagegam-gam"
FORMAT_VERSION = 4  # the newest this version reads and writes
METADATA_FILE = "sagegam-model.json"
ARRAYS_FILE = "sagegam-arrays.npz"
ARRAY_NAMES = ("coef", "covariance")
VERSION_1_ARRAYS = ("lower", "upper", "n_basis")


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
    arrays = _read_arrays(folder / ARRAYS_FILE, _array_digest(metadata),
                          ARRAY_NAMES + (VERSION_1_ARRAYS if metadata["format_version"] == 1
                                         else ()))
    return _build(metadata, arrays)


def _as_predictor(model: Any) -> GAMPredictor:
    if isinstance(model, GAMPredictor):
        return model
    predictor = getattr(model, "predictor_", None)
    if not isinstance(predictor, GAMPredictor):
        raise TypeError(f"Expected a fitted sagegam estimator or GAMPredictor; got {model!r}.")
    return predictor


def _arrays(predictor: GAMPredictor) -> dict[str, Any]:
    return {"coef": predictor.coef, "covariance": predictor.covariance}


def _metadata(predictor: GAMPredictor) -> dict[str, Any]:
    from sagegam import __version__

    # Format 3's keys appear only when the model needs them (format_version says so).
    needs: dict[str, Any] = {}
    if predictor.family.parameters:
        needs["family_parameters"] = predictor.family.parameters
    return needs | {
        "format": FORMAT_NAME,
        "format_version": format_version(predictor),
        "written_by": {"sagegam": __version__, "numpy": np.__version__,
                       "python": platform.python_version()},
        "task": predictor.task,
        "family": predictor.family.name,
        "link": predictor.family.link,
        "feature_names": list(predictor.feature_names),
        "features": [_feature_spec(f) for f in predictor.schema.features],
        "handle_unknown": predictor.schema.handle_unknown,
        "terms": [_jsonable(term.spec()) for term in predictor.terms],
        "classes": None if predictor.classes is None else list(predictor.classes),
        "info": _jsonable(predictor.info),
    }


def format_version(predictor: GAMPredictor) -> int:
    """The oldest format that holds this model, so older servers load what they can.

    Format 3 adds what an older reader would ignore, or not know, and then predict wrongly
    with: knots that are not equally spaced, a family with a parameter (Tweedie, negative
    binomial). Format 4 adds offset and exposure columns (features of kind "offset" or
    "exposure", which no term reads), which a format-3 reader would refuse as garbled.
    """
    if predictor.schema.offsets:
        return 4
    uneven = any(isinstance(m, SplineMargin) and m.knots is not None
                 for term in predictor.terms for m in term.margins)
    return 3 if uneven or predictor.family.parameters else 2


def _feature_spec(feature: Feature) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": feature.name, "kind": feature.kind,
                            "missing": feature.missing}
    if feature.categorical:
        spec["levels"] = list(feature.levels)
    return spec


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


def _array_digest(metadata: dict[str, Any]) -> str:
    try:
        return str(metadata["arrays"]["sha256"])
    except (KeyError, TypeError):
        raise ArtifactError("The model metadata has no 'arrays' entry with the arrays' "
                            "SHA-256; the file is damaged or was not written by sagegam.") \
            from None


def _read_arrays(path: Path, expected_sha256: str,
                 names: tuple[str, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"{path.name} is missing next to {METADATA_FILE} in {path.parent}.")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ArtifactError(f"{path} is truncated or altered (its SHA-256 does not match the "
                            "one recorded in the metadata); refusing to load it.")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        missing = set(names) - set(archive.files)
        if missing:
            raise ArtifactError(f"{path} lacks the arrays {sorted(missing)}.")
        return {name: archive[name] for name in names}


def _build(metadata: dict[str, Any], arrays: dict[str, Any]) -> GAMPredictor:
    try:
        family = FAMILIES[metadata["family"]].with_parameters(
            metadata.get("family_parameters") or {})
        if metadata["format_version"] == 1:
            schema, terms = _version_1(metadata, arrays)
        else:
            schema = Schema(tuple(_feature(spec) for spec in metadata["features"]),
                            _choice(metadata.get("handle_unknown", "error"), HANDLE_UNKNOWN))
            terms = tuple(term_from_spec(spec) for spec in metadata["terms"])
        classes = metadata["classes"]
        predictor = GAMPredictor(schema, terms, arrays["coef"].astype(np.float64),
                                 arrays["covariance"].astype(np.float64), family,
                                 None if classes is None else tuple(classes),
                                 dict(metadata.get("info", {})))
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactError(f"The model metadata lacks or garbles {error}.") from None
    _check_shapes(predictor)
    return predictor


def _feature(spec: dict[str, Any]) -> Feature:
    kind = _choice(spec["kind"], ("numeric", "categorical", *OFFSET_KINDS))
    levels = tuple(v if isinstance(v, str) else float(v) for v in spec.get("levels", []))
    return Feature(str(spec["name"]), kind, levels, bool(spec.get("missing", False)))  # type: ignore[arg-type]


def _choice(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} (expected one of {list(allowed)})")
    return str(value)


def _version_1(metadata: dict[str, Any],
               arrays: dict[str, Any]) -> tuple[Schema, tuple[Term, ...]]:
    """Format 1: numeric features only, one smooth each, basis arrays beside the coef."""
    names = tuple(str(n) for n in metadata["feature_names"])
    basis = metadata["basis"]
    extrapolation = _choice(basis["extrapolation"], EXTRAPOLATIONS)
    lower, upper, n_basis = (arrays[name] for name in VERSION_1_ARRAYS)
    if not lower.shape == upper.shape == n_basis.shape == (len(names),):
        raise ArtifactError(f"Inconsistent model artifact: the basis arrays must hold "
                            f"{len(names)} values, one per feature.")
    terms = tuple(SplineTerm(SplineMargin(j, float(lower[j]), float(upper[j]), int(n_basis[j]),
                                          int(basis["degree"]), extrapolation))
                  for j in range(len(names)))
    return Schema(tuple(Feature(name) for name in names)), terms


def _check_shapes(predictor: GAMPredictor) -> None:
    p = len(predictor.feature_names)
    k = 1 + sum(term.n_coef for term in predictor.terms)
    problems = []
    for term in predictor.terms:
        for margin in term.margins:
            if not 0 <= margin.feature < p:
                problems.append(f"a term uses feature {margin.feature} of {p}")
            elif predictor.schema.features[margin.feature].offset:
                problems.append(f"a term reads the offset column "
                                f"{predictor.feature_names[margin.feature]!r}")
            elif isinstance(margin, FactorMargin) != predictor.schema.features[
                    margin.feature].categorical or (isinstance(margin, FactorMargin) and
                    margin.n_codes != predictor.schema.features[margin.feature].n_codes):
                problems.append(f"a term's basis does not fit feature "
                                f"{predictor.feature_names[margin.feature]!r}")
    if predictor.coef.shape != (k,):
        problems.append(f"coef must have {k} values, has shape {predictor.coef.shape}")
    if predictor.covariance.shape != (k, k):
        problems.append(f"covariance must be {k}x{k}, is {predictor.covariance.shape}")
    if predictor.classes is not None and len(predictor.classes) != 2:
        problems.append("a classifier must have exactly 2 classes")
    if problems:
        raise ArtifactError("Inconsistent model artifact: " + "; ".join(problems) + ".")
