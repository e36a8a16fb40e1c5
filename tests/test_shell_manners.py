"""Issue 15, shell manners: headers, separators, id columns, completion, help, one meaning per
option, output precision, plots that scale."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest
from conftest import ROOT, SAMPLE, gmm_process

from gmmcli import load_model
from gmmcli.io import separators, training

BLOBS = SAMPLE / "blobs.csv"
BLOBS_TEXT = BLOBS.read_text()


@pytest.fixture(scope="module")
def xy_model(tmp_path_factory):
    """blobs.csv without its id: x, y, fitted once."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("manners") / "xy.joblib"
    assert run(["-q", "fit", str(BLOBS), "-k", "4", "-x", "id", "--seed", "0", "-o", str(path)]) == 0
    return path


def headerless(tmp_path, name="nohdr.csv"):
    path = tmp_path / name
    path.write_text("".join(line.split(",", 1)[1] + "\n" for line in BLOBS_TEXT.splitlines()[1:]))
    return path


# --- a header made of numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--dtype", "float32"]], ids=["plain-reader", "pandas-reader"])
def test_fit_refuses_a_header_of_numbers_and_names_no_header(gmm, tmp_path, extra):
    r = gmm("fit", headerless(tmp_path), "-k", "4", "-o", tmp_path / "m.joblib", *extra)
    assert r.code == 65, r.err
    assert r.err.startswith("error: the first line of") and "use --no-header" in r.err
    assert len(r.err.splitlines()) == 1 and not (tmp_path / "m.joblib").exists()


def test_every_data_command_refuses_it_and_takes_no_header(gmm, tmp_path, xy_model):
    data = headerless(tmp_path)
    for args in (
        ["select", data, "-k", "2", "-t", "full", "--n-init", "1"],
        ["predict", xy_model, data],
        ["plot", xy_model, data, "-o", tmp_path / "p.png"],
        ["plot", data, "-o", tmp_path / "p.png"],
    ):
        r = gmm(*args)
        assert r.code == 65 and "--no-header" in r.err, (args, r.err)
    r = gmm("fit", data, "--no-header", "-k", "4", "--seed", "0", "-o", tmp_path / "n.joblib")
    assert r.code == 0 and "400 rows x 2 columns" in r.err
    assert gmm("select", data, "--no-header", "-k", "2", "-t", "full", "--n-init", "1").code == 0
    r = gmm("predict", xy_model, data, "--no-header", "--columns", "x0,x1")
    assert r.code == 0 and r.out.splitlines()[0] == "label" and len(r.out.splitlines()) == 401
    assert r.out == gmm("predict", xy_model, BLOBS).out
    assert gmm("plot", data, "--no-header", "-o", tmp_path / "p.png").code == 0


def test_a_header_with_one_name_is_a_header(gmm, tmp_path):
    data = tmp_path / "mixed.csv"
    data.write_text("1,b\n" + "".join(f"{i},{i * i % 7}\n" for i in range(30)))
    with pytest.raises(Exception, match="all numbers"):
        separators.check_header(["1", "2.5e3", "-.5"], "x.csv")
    separators.check_header(["1", "b"], "x.csv")  # no error
    assert gmm("fit", data, "-k", "1", "-o", tmp_path / "m.joblib").code == 0


# --- separators -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, sep",
    [
        (b"id,x,y\n1,2,3\n", ","),
        (b"id\tx\ty\n1\t2\t3\n", "\t"),
        (b"id;x;y\n1;2,5;3\n", ";"),
        (b"id|x|y\n1|2|3\n", "|"),
        (b"x\n1\n2\n", ","),
        (b"a,b;c\n1,2;3\n4,5;6\n7,8", ","),  # as many commas as semicolons: comma first
        (b"a;b;c\n1;2;3\n4;5;6\n7,0;8", ";"),  # a cut-off last line does not count
    ],
)
def test_sniff_separator(head, sep):
    assert separators.sniff_separator(head) == sep


def test_tsv_on_stdin_is_sniffed_and_keeps_its_id(gmm, xy_model):
    tsv = BLOBS_TEXT.replace(",", "\t")
    r = gmm("predict", xy_model, "-", "--keep", "id", stdin=tsv)
    assert r.code == 0, r.err
    assert r.out == gmm("predict", xy_model, BLOBS, "--keep", "id").out


@pytest.mark.parametrize("sep, name", [(";", "data.txt"), ("|", "data"), ("\t", "data.dat.gz")])
def test_files_without_a_telling_extension_are_sniffed(gmm, tmp_path, xy_model, sep, name):
    path = tmp_path / name
    text = BLOBS_TEXT.replace(",", sep)
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    r = gmm("score", xy_model, path, "--keep", "id")
    assert r.code == 0, r.err
    assert r.out == gmm("score", xy_model, BLOBS, "--keep", "id").out


def test_d_tab_and_named_separators(gmm, tmp_path, xy_model):
    path = tmp_path / "blobs.csv"  # a .csv name: comma unless -d says otherwise
    path.write_text(BLOBS_TEXT.replace(",", "\t"))
    expected = gmm("predict", xy_model, BLOBS).out
    for spelled in ("tab", "\\t", "\t"):
        assert gmm("predict", xy_model, path, "-d", spelled).out == expected
    semi = tmp_path / "semi.csv"
    semi.write_text(BLOBS_TEXT.replace(",", ";"))
    assert gmm("predict", xy_model, semi, "-d", "semicolon").out == expected


def test_a_missing_column_that_looks_like_a_separator_problem_says_so(gmm, tmp_path, xy_model):
    path = tmp_path / "blobs.csv"
    path.write_text(BLOBS_TEXT.replace(",", "\t"))
    r = gmm("predict", xy_model, path)
    assert r.code == 65 and "is the separator right? try -d 'tab'" in r.err
    r = gmm("predict", xy_model, path, "-d", ",", "--keep", "id")
    assert r.code == 2 and "is the separator right?" in r.err
    r = gmm("fit", path, "-x", "id", "-o", tmp_path / "m.joblib")
    assert r.code == 2 and "is the separator right?" in r.err
    assert gmm("predict", xy_model, BLOBS, "--keep", "nope").err.count("separator") == 0


# --- row ids --------------------------------------------------------------------------------------


def test_row_id_columns():
    n = 50
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            np.arange(1, n + 1),  # an id
            np.arange(n, 0, -1) * 5.0,  # decreasing whole numbers: an id too
            rng.permutation(n),  # distinct but shuffled: not sorted
            np.arange(n) + 0.5,  # sorted but not whole
            rng.normal(size=n),
        ]
    )
    assert training.row_id_columns(X, list("abcde")) == ["a", "b"]
    assert training.row_id_columns(X[:5], list("abcde")) == []  # too few rows to tell


def test_fit_warns_of_an_id_column_and_suggests_exclude(gmm, tmp_path):
    r = gmm("fit", BLOBS, "-k", "4", "--seed", "0", "-o", tmp_path / "m.joblib")
    assert r.code == 0
    assert "warning: column 'id' looks like a row id" in r.err and "--exclude id" in r.err
    r = gmm("fit", BLOBS, "-k", "4", "--seed", "0", "-x", "id", "-o", tmp_path / "m.joblib")
    assert "warning" not in r.err


# --- completion and the man page ------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script(gmm, shell):
    r = gmm("completion", shell)
    assert r.code == 0 and "_GMMCLI_COMPLETE=complete_" + shell in r.out and "gmmcli" in r.out


def test_completion_of_an_unknown_shell_is_a_usage_error(gmm):
    r = gmm("completion", "tcsh")
    assert r.code == 2 and "unknown shell 'tcsh'" in r.err


@pytest.mark.slow
def test_completion_answers_commands_choices_and_files():
    bash = {"_GMMCLI_COMPLETE": "complete_bash", "COMP_WORDS": "gmmcli pr", "COMP_CWORD": "1"}
    assert gmm_process(env=bash).out.split() == ["predict", "proba"]
    bash = {"_GMMCLI_COMPLETE": "complete_bash", "COMP_WORDS": "gmmcli fit x.csv --dtype ", "COMP_CWORD": "4"}
    assert gmm_process(env=bash).out.split() == ["float64", "float32"]
    bash = {"_GMMCLI_COMPLETE": "complete_bash", "COMP_WORDS": "gmmcli select x.csv -t EE", "COMP_CWORD": "4"}
    assert gmm_process(env=bash).out.split() == ["EEI", "EEE", "EEV"]
    fish = {
        "_GMMCLI_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": "gmmcli select x.csv --criterion ",
    }
    assert gmm_process(env=fish).out.split() == ["bic", "aic", "icl", "cv"]
    zsh = {"_GMMCLI_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "gmmcli fit sam"}
    assert gmm_process(env=zsh).out.strip() == "_files"  # DATA: the shell completes file names


def test_man_page_is_up_to_date():
    from gmmcli.manpage import render

    page = (ROOT / "docs" / "gmmcli.1").read_text()
    assert page == render(), "docs/gmmcli.1 is stale: python -m gmmcli.manpage > docs/gmmcli.1"
    assert page.startswith(".TH GMMCLI 1") and ".SH EXIT STATUS" in page
    for name in COMMANDS:
        assert ".SS " + name.replace("-", "\\-") in page


# --- help -----------------------------------------------------------------------------------------

COMMANDS = [
    "fit",
    "predict",
    "proba",
    "score",
    "info",
    "select",
    "sample",
    "plot",
    "digits-demo",
    "completion",
]


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_is_clean(gmm, name):
    r = gmm(name, "--help")
    assert r.code == 0
    text = r.out
    assert text.startswith(f"usage: gmmcli {name} [options]")
    assert not re.search(r"<(bool|int|str|float|list)", text) and "{" not in text.split("\n")[0]
    assert "\nExamples:\n  gmmcli " in text or "\nExample" in text
    prose = [line for line in text.splitlines() if not line.lstrip().startswith(("gmmcli", "cat ", "echo"))]
    assert max(map(len, prose)) <= 80


def test_help_never_breaks_a_word(gmm):
    words = " ".join(gmm("fit", "--help").out.split())
    assert "random_from_data" in words and "spherical," in words and "k-means++" in words
    assert "(tcp://host:8786)" in words


def test_top_level_help_has_examples_and_exit_codes(gmm):
    r = gmm("--help")
    assert r.code == 0 and r.out.startswith("usage: gmmcli [-q | -v] COMMAND")
    assert "Examples:\n  gmmcli fit" in r.out
    for code in ("0", "2", "3", "65", "66", "73", "74"):
        assert re.search(rf"^  {code} +\S", r.out, re.M), code
    for name in COMMANDS:
        assert f"\n  {name} " in r.out


def test_readme_lists_the_exit_codes_the_help_does():
    from gmmcli.help import EXIT_CODES

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Exit codes") :]
    for code, _ in EXIT_CODES:
        for number in code.split("/"):
            assert (
                re.search(rf"^\| {number} ", table, re.M) or f"{number} /" in table or f"/ {number}" in table
            )


def test_bare_gmmcli_prints_help_on_stderr_and_exits_2(gmm):
    r = gmm()
    assert r.code == 2 and r.out == "" and r.err.startswith("usage: gmmcli")
    assert gmm("-q").code == 2


def test_dash_capital_v_prints_the_version(gmm):
    from gmmcli import __version__

    assert gmm("-V").out == f"gmmcli {__version__}\n" == gmm("--version").out


# --- one meaning per option -----------------------------------------------------------------------


def _params(name: str):
    import typer

    from gmmcli.cli import app

    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[name].params}


DATA_COMMANDS = ["fit", "predict", "proba", "score", "select", "plot"]
TABLE_COMMANDS = ["predict", "proba", "score", "sample"]


def test_every_data_command_has_the_same_input_options():
    from gmmcli.commands.options import INPUT_OPTIONS

    reference = _params("fit")
    for name in DATA_COMMANDS:
        params = _params(name)
        for pname, flag in INPUT_OPTIONS.items():
            assert pname in params, (name, flag)
            assert params[pname].opts == reference[pname].opts and params[pname].help == reference[pname].help


def test_every_table_writer_has_the_output_options():
    from gmmcli.commands.options import OUTPUT_OPTIONS

    reference = _params("predict")
    for name in TABLE_COMMANDS:
        params = _params(name)
        for pname in OUTPUT_OPTIONS:
            assert params[pname].opts == reference[pname].opts, (name, pname)
    assert {"precision", "no_output_header"} <= set(_params("select"))


def test_jobs_seed_and_output_read_alike():
    jobs = [_params(name)["jobs"] for name in ("fit", "select", "digits-demo")]
    assert all(j.opts == ["--jobs", "-j"] and j.default is None and j.help == jobs[0].help for j in jobs)
    assert "default: all cores" in jobs[0].help
    for name in COMMANDS[:-1]:
        params = _params(name)
        assert "-o" in params["output" if "output" in params else "out_dir"].opts, name
    assert set(_params("digits-demo")["out_dir"].opts) == {"-o", "--output", "-O", "--out-dir"}


def test_seed_is_0_by_default_in_every_command_and_reads_alike():
    import typer

    from gmmcli.cli import app

    names = [name for name in typer.main.get_command(app).commands if "seed" in _params(name)]
    assert sorted(names) == ["digits-demo", "fit", "lrt", "plot", "sample", "select"]
    seeds = [_params(name)["seed"] for name in names]
    assert all(s.default == 0 and s.opts == ["--seed"] and s.help == seeds[0].help for s in seeds)
    assert "default 0; pass another seed for other draws" in seeds[0].help


def test_without_seed_runs_repeat_as_with_seed_0(gmm, xy_model, tmp_path):
    draws = [gmm("sample", xy_model, "-n", "20", *extra).out for extra in ([], [], ["--seed", "0"])]
    assert draws[0] == draws[1] == draws[2] != gmm("sample", xy_model, "-n", "20", "--seed", "1").out
    fits = []
    for name, extra in (("a", []), ("b", []), ("c", ["--seed", "0"])):
        out = tmp_path / f"{name}.joblib"
        assert gmm("-q", "fit", BLOBS, "-x", "id", "-k", 4, "--init", "random", *extra, "-o", out).code == 0
        fits.append(load_model(out))
    assert fits[0].meta["fit_settings"]["seed"] == 0
    for other in fits[1:]:
        np.testing.assert_array_equal(other.params.means, fits[0].params.means)


def test_info_format_json_and_the_json_alias(gmm, xy_model, tmp_path):
    a, b = gmm("info", xy_model, "--format", "json"), gmm("info", xy_model, "--json")
    assert a.code == 0 and a.out == b.out and json.loads(a.out)["n_components"] == 4
    assert gmm("info", xy_model, "-f", "json", "-o", tmp_path / "i.json").out == ""
    assert json.loads((tmp_path / "i.json").read_text()) == json.loads(a.out)
    assert gmm("info", xy_model, "--format", "yaml").code == 2


def test_info_off_a_terminal_is_not_padded(xy_model):
    r = gmm_process("info", xy_model)
    assert r.code == 0 and "n_components" in r.out
    assert all(line == line.rstrip() for line in r.out.splitlines())
    assert len(set(map(len, r.out.splitlines()))) > 5  # lines end with their value, not at a width


def test_digits_demo_takes_o_and_keeps_out_dir(gmm, tmp_path):
    for flag in ("-o", "-O", "--out-dir", "--output"):
        r = gmm("digits-demo", "-k", "0", flag, tmp_path / "d")
        assert r.code == 2 and "-k" in r.err and "No such option" not in r.err, (flag, r.err)


@pytest.mark.slow
def test_select_on_dask_reads_every_file(gmm):
    files = [SAMPLE / "moons.csv", SAMPLE / "stretched.csv"]
    grid = ["-c", "x,y", "-k", "1", "-t", "full", "--n-init", "1", "--format", "json"]
    r = gmm("select", "--engine", "dask", "--worker-memory", "600MB", *files, *grid)
    assert r.code == 0, r.err
    both = np.vstack([np.loadtxt(f, delimiter=",", skiprows=1) for f in files])
    expected = gmm(
        "select", "-", *grid, stdin="x,y\n" + "\n".join(f"{a!r},{b!r}" for a, b in both.tolist()) + "\n"
    )
    assert expected.code == 0, expected.err
    assert json.loads(r.out)["bic"] == pytest.approx(json.loads(expected.out)["bic"], rel=1e-9)


def test_select_takes_the_options_fit_has(gmm, tmp_path):
    grid = ["-k", "1-3", "-t", "full", "--n-init", "1"]
    r = gmm("select", BLOBS, "-x", "id", *grid, "--dtype", "float32", "--precision", "4")
    assert r.code == 0, r.err
    assert all(len(re.sub(r"\D", "", v)) <= 4 for v in r.out.splitlines()[1].split(",")[3:4])
    assert gmm("select", BLOBS, BLOBS, "-x", "id", *grid).code == 2  # several files: --engine dask
    r = gmm("select", BLOBS, "-x", "id", *grid, "--max-memory", "1K")
    assert r.code == 65 and "--max-memory" in r.err
    out = tmp_path / "w.joblib"
    r = gmm("select", BLOBS, "-x", "id", *grid, "--max-iter", "1", "--strict", "-o", out)
    assert r.code == 3 and "did not converge" in r.err and not out.exists()
    r = gmm("select", BLOBS, "-x", "id", *grid, "--no-output-header", "--format", "csv")
    assert r.out.splitlines()[0].startswith("1,")


# --- output precision and header ------------------------------------------------------------------


def test_precision_rounds_floats_in_every_format(gmm, xy_model):
    r = gmm("proba", xy_model, BLOBS, "--precision", "3")
    assert r.code == 0
    values = [v for line in r.out.splitlines()[1:] for v in line.split(",")]
    assert all(len(re.sub(r"e.*|\D", "", v).lstrip("0")) <= 3 for v in values)
    full = np.loadtxt(gmm("proba", xy_model, BLOBS).out.splitlines()[1:], delimiter=",")
    np.testing.assert_allclose(np.loadtxt(r.out.splitlines()[1:], delimiter=","), full, rtol=5e-3, atol=0)
    row = json.loads(gmm("proba", xy_model, BLOBS, "--precision", "2", "-f", "json").out.splitlines()[0])
    assert all(v == float(f"{v:.2g}") for v in row.values())
    assert gmm("proba", xy_model, BLOBS, "--precision", "0").code == 2
    assert gmm("sample", xy_model, "-n", "3", "--seed", "0", "--precision", "2").out.count(".") <= 6


def test_precision_is_the_same_through_both_readers(tmp_path, xy_model):
    from gmmcli.model import load_model
    from gmmcli.scoring import score_table

    model = load_model(xy_model)
    outputs = []
    for plain in (True, False):
        out = tmp_path / f"{plain}.csv"
        score_table(
            model, str(BLOBS), "proba", keep=["id"], dropna=False, output=str(out), fmt="csv",
            precision=4, plain=plain, output_header=False,
        )  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and not outputs[0].startswith(b"id")


def test_no_output_header(gmm, xy_model):
    with_header = gmm("predict", xy_model, BLOBS, "--keep", "id").out
    r = gmm("predict", xy_model, BLOBS, "--keep", "id", "--no-output-header")
    assert r.out == with_header.split("\n", 1)[1]
    assert gmm("predict", xy_model, BLOBS, "--no-output-header", "-f", "json").out.startswith("{")


# --- plots ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext, magic", [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF"), ("jpg", b"\xff\xd8")]
)
def test_plot_format_from_the_extension(gmm, tmp_path, xy_model, ext, magic):
    out = tmp_path / f"blobs.{ext}"
    assert gmm("plot", xy_model, BLOBS, "-o", out).code == 0
    assert out.read_bytes().startswith(magic)


def test_plot_refuses_a_format_it_cannot_write(gmm, tmp_path, xy_model):
    for name in ("blobs.jpg2", "blobs"):
        r = gmm("plot", xy_model, BLOBS, "-o", tmp_path / name)
        assert r.code == 2 and "end the name in .png, .svg or .pdf" in r.err
    assert list(tmp_path.iterdir()) == []


def test_points_scale_with_the_rows():
    from gmmcli.plots.points import PointStyle

    style = PointStyle()
    assert style.size_for(200) == 50 and style.alpha_for(200) == 1
    assert style.size_for(20_000) < 5 and style.alpha_for(20_000) < 0.5
    assert PointStyle(size=7, alpha=0.3).size_for(20_000) == 7
    assert style.shown(200) is None and len(style.shown(20_000)) == 5000


def _scatter_sizes(fig):
    return [c for c in fig.axes[0].collections if c.get_label() == "data"][0]


def test_large_inputs_are_sampled_over_a_density(tmp_path):
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Ellipse

    from gmmcli.plots.mixture import model_figure
    from gmmcli.plots.points import PointStyle

    from_model = load_model_fixture(tmp_path)
    X = from_model.sample(20_000, seed=0)[0]
    fig = model_figure(from_model, X, (0, 1), style=PointStyle(max_points=3000))
    ax = fig.axes[0]
    assert len(_scatter_sizes(fig).get_offsets()) == 3000
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the hexbin density
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 4 * from_model.n_components  # 1-2-3 sigma fills and a 2-sigma outline
    fig.clf()
    fig = model_figure(from_model, X[:200], (0, 1), ellipses=False, color_by_label=False)
    assert not fig.axes[0].patches
    assert set(_scatter_sizes(fig).get_sizes()) == {50.0}  # --no-labels: one size, as the notebook
    fig.clf()


def load_model_fixture(tmp_path):
    from test_sample import known_params

    from gmmcli.model import Model

    return Model(known_params("full"), ["a", "b", "c"], {})


def test_plot_options(gmm, tmp_path, xy_model):
    out = tmp_path / "o.png"
    for extra in (["--point-size", "3", "--alpha", "0.5"], ["--no-ellipses"], ["--max-points", "100"]):
        r = gmm("plot", xy_model, BLOBS, "-o", out, *extra)
        assert r.code == 0, (extra, r.err)
    assert "100 drawn over their density" in r.err
    for extra, message in (
        (["--alpha", "2"], "--alpha"),
        (["--point-size", "0"], "--point-size"),
        (["--kmeans", "3"], "not a MODEL"),
    ):
        r = gmm("plot", xy_model, BLOBS, "-o", out, *extra)
        assert r.code == 2 and message in r.err
    r = gmm("plot", BLOBS, "--samples", "5", "-o", out)
    assert r.code == 2 and "--samples draws from a model" in r.err


def test_kmeans_figure_draws_the_notebook_circles(gmm, tmp_path):
    from matplotlib.patches import Circle

    from gmmcli.engine.kmeans import kmeans
    from gmmcli.plots.points import PointStyle, kmeans_circles, kmeans_figure

    X = np.loadtxt(SAMPLE / "stretched.csv", delimiter=",", skiprows=1)
    result = kmeans(X, 4, 2018)
    radii = kmeans_circles(X, result.centers, result.labels)
    for c in range(4):
        far = np.linalg.norm(X[result.labels == c] - result.centers[c], axis=1).max()
        assert radii[c] == pytest.approx(far)
    fig = kmeans_figure(X, result.labels, result.centers, radii, ("x", "y"), PointStyle())
    circles = [p for p in fig.axes[0].patches if isinstance(p, Circle)]
    assert sorted(c.radius for c in circles) == pytest.approx(sorted(radii))
    fig.clf()
    out = tmp_path / "km.png"
    r = gmm("plot", SAMPLE / "stretched.csv", "--kmeans", "4", "--seed", "2018", "-o", out)
    assert r.code == 0 and "k-means with 4 clusters" in r.err and out.exists()
    r = gmm("plot", BLOBS, "-x", "id", "-o", tmp_path / "scatter.png")
    assert r.code == 0 and "400 rows (x, y)" in r.err
