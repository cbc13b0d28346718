"""``sagegam explore``: the interactive explorer of a saved model, as one HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

DEFAULT_MAX_ROWS = 5_000  # sagegam.explore.MAX_ROWS, without importing it for --help


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--data", "-d", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of rows to show, with a header naming the model's features or in "
                   "their order: it adds histograms, importances on the data, rows to pick "
                   "under 'why this prediction', and the fit if the target column is there. "
                   "Without it the page shows the model alone.")
@click.option("--validation", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of held-out rows, laid out like --data; the page adds their fit.")
@click.option("--target", "-y", default=None,
              help="Target column of the CSVs: a header name or a 0-based index (negative "
                   "from the end). Default: the one column that is not a feature.")
@click.option("--max-rows", type=click.IntRange(min=1), default=DEFAULT_MAX_ROWS,
              show_default=True,
              help="Rows of each CSV embedded in the page (a seeded sample past that; every "
                   "row still counts in histograms, importances and metrics).")
@click.option("--title", default=None, help="Page title. Default: the model's task.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("explorer.html"), show_default=True, help="The HTML file to write.")
def explore(model: Path, data: Path | None, validation: Path | None, target: str | None,
            max_rows: int, title: str | None, output: Path) -> None:
    """Write the interactive explorer of a saved MODEL (artifact folder or model.tar.gz).

    One self-contained HTML file: it opens from a file, with no server and no network.

    \b
    Example:
      sagegam explore model.tar.gz --data train.csv -o explorer.html
    """
    from sagegam.explore import write_explorer
    from sagegam.model.artifact import ArtifactError

    try:
        predictor = _load(model)
    except ArtifactError as error:
        raise click.ClickException(str(error)) from None
    sets: dict[str, Any] = {}
    for key, path in (("", data), ("_validation", validation)):
        if path is not None:
            X, y = _read(path, list(predictor.feature_names), target)
            sets |= {f"X{key}": X, f"y{key}": y}
    if "X" not in sets and "X_validation" in sets:
        raise click.UsageError("--validation needs --data as well.")
    try:
        write_explorer(output, predictor, sets.pop("X", None), sets.pop("y", None),
                       title=title, max_rows=max_rows, **sets)
    except ValueError as error:
        raise click.ClickException(f"Cannot show the data: {error}") from None
    except OSError as error:
        raise click.ClickException(f"Cannot write {output}: {error.strerror or error}") from None
    click.echo(f"wrote {output}")


def _load(model: Path) -> Any:
    import tarfile
    import tempfile

    from sagegam import load

    if model.is_file() and tarfile.is_tarfile(model):
        with tempfile.TemporaryDirectory() as folder, tarfile.open(model) as archive:
            archive.extractall(folder, filter="data")
            return load(folder)
    return load(model)


def _read(path: Path, names: list[str], target: str | None) -> tuple[Any, Any]:
    """A CSV as the model's feature columns (text, as an endpoint reads CSV) and target."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, skipinitialspace=True)
    except (ValueError, UnicodeDecodeError) as error:  # pandas' parser errors included
        raise click.ClickException(f"Cannot read {path.name} as CSV: {error}") from None
    if frame.empty:
        raise click.ClickException(f"{path.name} has no rows.")
    first = [str(v).strip() for v in frame.iloc[0]]
    if set(names) <= set(first):
        frame = frame.iloc[1:].reset_index(drop=True)
        frame.columns = first
        return frame[names], _named_target(frame, names, target, path)
    return _positional(frame, names, target, path)


def _named_target(frame: Any, names: list[str], target: str | None, path: Path) -> Any:
    columns = list(frame.columns)
    if target is None:
        others = [c for c in columns if c not in names]
        return frame[others[0]].to_numpy() if len(others) == 1 else None
    if target in columns:
        return frame[target].to_numpy()
    return frame.iloc[:, _index(target, len(columns), path)].to_numpy()


def _positional(frame: Any, names: list[str], target: str | None, path: Path) -> Any:
    p, width = len(names), frame.shape[1]
    if width == p and target is None:
        frame.columns = names
        return frame, None
    if width != p + 1:
        raise click.ClickException(
            f"{path.name} has {width} columns and no header naming the model's features "
            f"({', '.join(names[:8])}{', ...' if p > 8 else ''}); expected {p} columns, or "
            f"{p + 1} with the target.")
    index = _index(target or "-1", width, path)
    features = frame.drop(columns=frame.columns[index])
    features.columns = names
    return features, frame.iloc[:, index].to_numpy()


def _index(target: str, width: int, path: Path) -> int:
    if target.lstrip("-").isdigit() and -width <= int(target) < width:
        return int(target) % width
    raise click.ClickException(f"--target {target!r} names no column of {path.name} (a header "
                               f"name, or an index in [{-width}, {width})).")
