"""Hidden cases for `sagegam local`: hypothesis over commands, names, files and options.

Whatever is typed, a command succeeds or ends in one sentence (click's usage errors, exit
2; the runtime's, exit 1), never a traceback; and nothing it started is left running.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagegam import GAMRegressor, save
from sagegam.cli import cli
from sagegam.local import endpoints

NAMES = st.one_of(st.sampled_from(["gauss3", "a", "x" * 64, "-lead", "no spaces", "ümlaut",
                                   ""]), st.text(max_size=8))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-fuzz")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 200)
    save(GAMRegressor(df=6).fit(x[:, None], np.sin(x)), folder / "model")
    np.savetxt(folder / "train.csv", np.column_stack([x, np.sin(x)]), delimiter=",")
    np.savetxt(folder / "features.csv", x[:50], delimiter=",")
    (folder / "header.csv").write_text("x0\n1\n2\n")
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "empty").mkdir()
    with tarfile.open(folder / "evil.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return {p.name: p for p in folder.iterdir()} | {"missing": folder / "missing.csv"}


def _path(files: dict[str, Path]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(files)).map(lambda name: str(files[name]))


@st.composite
def commands(draw: st.DrawFn, files: dict[str, Path]) -> list[str]:
    name = draw(NAMES)
    path = _path(files)
    kind = draw(st.sampled_from(["describe", "delete", "endpoints", "invoke", "deploy",
                                 "transform", "train", "bogus"]))
    if kind in ("describe", "delete"):
        return [kind, name]
    if kind == "endpoints":
        return [kind, *draw(st.sampled_from([[], ["--json"], ["--nope"]]))]
    if kind == "invoke":
        return ["invoke", name, draw(path), "-c",
                draw(st.sampled_from(["text/csv", "application/json", "image/png", ""]))]
    if kind == "deploy":
        port = draw(st.sampled_from([[], ["--port", "0"], ["--port", "70000"],
                                     ["--port", "x"]]))
        return ["deploy", name, draw(path), *port]
    if kind == "transform":
        options = draw(st.lists(st.sampled_from([
            ["--split-type", "None"], ["--batch-strategy", "SingleRecord"],
            ["--max-payload", "0"], ["--max-payload", "0.001"], ["--input-filter", "$[9]"],
            ["--join-source", "Input"], ["--content-type", "application/jsonlines"],
            ["--accept", "application/json"], ["--max-concurrent", "-1"]]), max_size=2))
        return ["transform", name, draw(path), draw(path), "-o",
                str(files["empty"] / "out"), *[part for option in options for part in option]]
    if kind == "train":
        pairs = draw(st.lists(st.sampled_from(["df=5", "df=nan", "dff=3", "=", "novalue",
                                               "task=classification"]), max_size=2))
        return ["train", name, "--train", draw(path),
                *[part for pair in pairs for part in ("-p", pair)]]
    return [draw(st.text(min_size=1, max_size=6))]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_local_commands_succeed_or_end_in_one_sentence(files, monkeypatch, data):
    argv = data.draw(commands(files))
    with tempfile.TemporaryDirectory() as home:
        monkeypatch.setenv("SAGEGAM_HOME", home)
        try:
            result = CliRunner().invoke(cli, ["local", *argv])
        finally:
            for endpoint in endpoints.list_endpoints():
                endpoints.delete(endpoint["EndpointName"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{argv}: {result.output}") from result.exception
    assert result.exit_code in (0, 1, 2), (argv, result.output)
    assert "Traceback" not in result.output, (argv, result.output)
    if result.exit_code:  # the last line is the sentence (a failed job's reason, or click's)
        last = result.output.rstrip().splitlines()[-1]
        assert last.startswith(("Error: ", "reason: ")), (argv, result.output)
