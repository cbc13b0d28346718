"""Commands over the model core."""

from __future__ import annotations

from pathlib import Path

import click

from sagegam.cli.options import hyperparameter_option


@click.command()
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=Path("sagegam-demo"), show_default=True,
              help="Folder for the model, its summary and the partial-effect plot.")
def demo(output: Path) -> None:
    """Fit the bundled NIST Gauss3 data with default settings and report.

    Splits Gauss3 the way the reference walkthrough did, fits a GAMRegressor with
    automatic smoothness, prints the summary and the train/test R^2, and writes the
    model artifact and a plot of the fitted term with its 95% band to OUTPUT.

    \b
    Example:
      sagegam demo -o /tmp/gauss3
    """
    from sagegam import GAMRegressor, save
    from sagegam.datasets import gauss3_split
    from sagegam.model.plotting import plot_terms

    X_train, X_test, y_train, y_test = gauss3_split()
    model = GAMRegressor().fit(X_train, y_train)
    click.echo(model.summary())
    click.echo(f"\ntrain R^2 {model.score(X_train, y_train):.4f}   "
               f"test R^2 {model.score(X_test, y_test):.4f}   "
               f"(reference at df=20: 0.9967 / 0.9972)")
    save(model, output / "model")
    (output / "summary.txt").write_text(model.summary() + "\n", encoding="utf-8")
    plot_terms(model.predictor_, path=output / "partial-effects.png", X=X_train, y=y_train,
               title="Gauss3: fitted term, 95% band and partial residuals")
    click.echo(f"wrote {output / 'model'}, {output / 'summary.txt'}, "
               f"{output / 'partial-effects.png'}")


@click.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", "-y", default=None,
              help="Target column: a header name or a 0-based index (negative from the end); "
                   "default the last column.")
@click.option("--task", type=click.Choice(["regression", "classification"]), default=None,
              help="classification fits a binary GAMClassifier; default regression.")
@click.option("--family", type=click.Choice(["gaussian", "poisson", "gamma"]), default=None,
              help="Regression family; default gaussian.")
@click.option("--df", type=int, default=None, help="Basis size per numeric feature; default 25.")
@hyperparameter_option
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=Path("sagegam-fit"), show_default=True,
              help="Folder for the model, summary.txt and partial-effects.png.")
def fit(data: Path, target: str | None, task: str | None, family: str | None, df: int | None,
        hyperparameters: dict[str, str], output: Path) -> None:
    """Fit a GAM to a CSV, Parquet or JSON Lines file and report it.

    Takes the training job's settings (-H, as in docs/training.md), so a fit tried here
    runs unchanged as a SageMaker training job. Text columns are categorical features.

    \b
    Examples:
      sagegam fit housing.csv --target price -o housing-gam
      sagegam fit wage.csv -y wage -H interactions=auto
    """
    import time

    from sagegam import save
    from sagegam.container import hyperparameters as contract
    from sagegam.container.errors import UserError
    from sagegam.container.tabular import ReadOptions, read_table
    from sagegam.model.plotting import plot_terms

    given = {"target": target, "task": task, "family": family, "df": df}
    both = sorted(set(hyperparameters) & {k for k, v in given.items() if v is not None})
    if both:
        raise click.UsageError(f"{both[0]} is given both as --{both[0]} and as -H; give it once.")
    raw = {**hyperparameters, **{k: str(v) for k, v in given.items() if v is not None}}
    try:
        settings = contract.parse(raw)
        options = ReadOptions(settings["target"], settings["header"],
                              not settings.classification)
        table = read_table([data], None, options,
                           progress=lambda line: click.echo(line, err=True))
    except UserError as error:
        raise click.ClickException(str(error)) from None
    model = settings.estimator()
    click.echo(f"fitting {len(table.X):,} rows x {table.X.shape[1]} features "
               f"({settings.describe()}) ...", err=True)
    started = time.perf_counter()
    try:
        model.fit(table.X, table.y)
    except ValueError as error:
        raise click.ClickException(f"Cannot fit {data.name}: {error}") from None
    click.echo(f"fitted in {time.perf_counter() - started:.2f} s", err=True)
    click.echo(model.summary())
    save(model, output / "model")
    (output / "summary.txt").write_text(model.summary() + "\n", encoding="utf-8")
    plot_terms(model.predictor_, path=output / "partial-effects.png", X=table.X, y=table.y)
    click.echo(f"wrote {output / 'model'}, {output / 'summary.txt'}, "
               f"{output / 'partial-effects.png'}")


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("partial-effects.png"), show_default=True,
              help="Image file; PNG, SVG or PDF by its suffix.")
@click.option("--level", type=float, default=0.95, show_default=True,
              help="Confidence level of the bands.")
def plot(model: Path, output: Path, level: float) -> None:
    """Draw every term of a saved MODEL (artifact folder or model.tar.gz) with its band.

    \b
    Example:
      sagegam plot sagegam-demo/model -o terms.png
    """
    import tarfile
    import tempfile

    from sagegam import load
    from sagegam.model.artifact import ArtifactError
    from sagegam.model.plotting import plot_terms

    try:
        if model.is_file() and tarfile.is_tarfile(model):
            with tempfile.TemporaryDirectory() as folder, tarfile.open(model) as archive:
                archive.extractall(folder, filter="data")
                predictor = load(folder)
        else:
            predictor = load(model)
    except ArtifactError as error:
        raise click.ClickException(str(error)) from None
    plot_terms(predictor, path=output, level=level)
    click.echo(f"wrote {output}")


@click.group()
def datasets() -> None:
    """Datasets bundled with sagegam."""


@datasets.command()
@click.argument("name", type=click.Choice(["gauss3"]))
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export(name: str, folder: Path) -> None:
    """Write NAME's reference train/test split as headerless CSVs (target last) to FOLDER.

    \b
    Example:
      sagegam datasets export gauss3 data/
    """
    import numpy as np

    from sagegam.datasets import gauss3_split

    X_train, X_test, y_train, y_test = gauss3_split()
    folder.mkdir(parents=True, exist_ok=True)
    np.savetxt(folder / "train.csv", np.column_stack([X_train, y_train]), delimiter=",",
               fmt="%.10g")
    np.savetxt(folder / "test.csv", np.column_stack([X_test, y_test]), delimiter=",",
               fmt="%.10g")
    np.savetxt(folder / "test-features.csv", X_test, delimiter=",", fmt="%.10g")
    click.echo(f"wrote {folder / 'train.csv'} ({len(y_train)} rows), {folder / 'test.csv'} "
               f"and {folder / 'test-features.csv'} ({len(y_test)} rows)")
