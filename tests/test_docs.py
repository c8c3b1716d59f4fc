"""The docs site builds with ``mkdocs build --strict`` (any warning fails), offline, and holds the
generated pages a reader relies on: every command's help, the API from the docstrings, the model
card and the tutorial."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("NAMEORIGIN_REQUIRE_DOCS", "") not in ("", "0"):
            pytest.fail("NAMEORIGIN_REQUIRE_DOCS is set but mkdocs is not installed: pip install -e '.[docs]'")
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]' to build the docs site)")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NAMEORIGIN_DATA_URL": "http://127.0.0.1:9/unreachable"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_has_every_subcommand(site):
    from nameorigin.cli import build_parser

    text = page(site, "cli")
    names = load_hooks()._subcommands(build_parser())
    assert "explain" in names
    for name in names:
        assert f"usage: nameorigin {name}" in text, name
    assert "--plot FILE.png" in text


def test_api_reference_is_generated_from_the_docstrings(site):
    text = page(site, "api")
    for name in ("predict_proba", "load_corpus", "ScratchRNN", "train_and_save", "evaluate_checkpoint",
                 "fit_temperature", "explain"):
        assert name in text, name


def test_model_card_is_included_and_tutorial_rendered(site):
    first_heading = (ROOT / "MODEL_CARD.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
    assert first_heading.split("`")[0].strip() in page(site, "model-card")
    tutorial = page(site, "tutorial")
    assert "Tutorial: the name classifier" in tutorial and "in2hidden" in tutorial
    assert (site / "index.html").is_file() and (site / "design" / "index.html").is_file()
    assert not (site / "hooks.py").exists() and not (site / "conftest.py").exists()


def load_notebook_checks():
    spec = importlib.util.spec_from_file_location("docs_conftest", ROOT / "docs" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorial_is_stored_with_every_output():
    """The site shows the notebook's stored outputs; docs/conftest.py checks them against a fresh run."""
    nbformat = pytest.importorskip("nbformat")

    nb = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs for cell in code), "run: python -m pytest -q docs/tutorial.ipynb --overwrite"
    assert not any("execution" in cell.metadata for cell in code)
    texts = load_notebook_checks().cell_outputs(nb)
    assert "<image/png>" in texts[-1]
    assert not any(text.startswith("[error]") or text.startswith("[stderr]") for cell in texts for text in cell)


def test_stored_outputs_are_compared_number_by_number():
    nbformat = pytest.importorskip("nbformat")

    checks = load_notebook_checks()
    stored = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    fresh = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    assert checks.output_differences(stored, fresh) == []
    for cell in fresh.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                out.text = re.sub(r"trained in [0-9.]+ s", "trained in 99.9 s", out.text)
                out.text = out.text.replace("torch 2.", "torch 9.")
    assert checks.output_differences(stored, fresh) == []  # timings and versions are not the code's
    trained = next(out for cell in fresh.cells for out in cell.get("outputs", [])
                   if out.output_type == "stream" and "test accuracy" in out.text)
    accuracy = re.search(r"test accuracy (0\.\d+)", trained.text).group(1)
    trained.text = trained.text.replace(accuracy, f"{float(accuracy) + 0.002:.3f}")
    problems = checks.output_differences(stored, fresh)
    assert len(problems) == 1 and "test accuracy" in problems[0]


def test_tutorial_page_shows_the_outputs(site):
    text = page(site, "tutorial")
    for shown in ("20,070 names in 18 languages", "forward gives the hand loop", "test accuracy",
                  "the hand loop gives the classifier", "data:image/png;base64,"):
        assert shown in text, shown


def test_model_card_links_to_the_experiments_on_github_and_on_the_site(site):
    card = (ROOT / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "](docs/experiments.md" in card  # as GitHub resolves it from the root
    text = page(site, "model-card")
    assert 'href="../experiments/' in text and "docs/experiments.md" not in text
    assert "Per-locale, v1 beside v2" in page(site, "experiments")


def test_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert "python -m pytest -q\n" in text  # the command CI runs (.ci/run)
    targets = re.findall(r"\]\(([^)#\s]+)(?:#([^)\s]+))?\)", text)
    local = [(path, anchor) for path, anchor in targets if "://" not in path]
    assert ("docs/tutorial.ipynb", "") in local
    for path, anchor in local:
        assert (ROOT / path).is_file(), path
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(encoding="utf-8"), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-") for h in headings}
            assert anchor in slugs, (path, anchor)


def test_home_page_describes_both_models_and_links_every_page(site):
    import yaml

    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "`world`" in home and "`tutorial`" in home and "Other" in home
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    pages = [next(iter(entry.values())) for entry in config["nav"]]
    for target in pages:
        if target != "index.md":
            assert f"]({target})" in home, target


EXTRAS = {r"explain\b.*--plot|nameorigin report\b|nameorigin reproduce\b": "plot",
          r"nameorigin serve\b": "serve", r"nameorigin export\b": "onnx"}


@pytest.mark.parametrize("name", ["README.md", "docs/index.md", "docs/usage.md", "docs/training.md"])
def test_every_example_names_the_extra_it_needs(name):
    """A page that shows a command needing an extra also shows that extra's install line."""
    text = (ROOT / name).read_text(encoding="utf-8")
    for command, extra in EXTRAS.items():
        if re.search(command, text):
            assert re.search(rf"pip install [^\n]*\[[^\]\n]*\b{extra}\b", text), (name, extra)
