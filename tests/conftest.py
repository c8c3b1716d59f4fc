"""Shared fixtures: the real corpus, and small corpora cut from it.

The corpus is read from ``$NAMEORIGIN_TEST_DATA``, else ``../shared/data`` beside the repository:
a folder holding ``names/*.txt`` and the tutorial's ``data.zip``. Without it the tests that need
it are skipped and say how to get it; with ``NAMEORIGIN_REQUIRE_DATA=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _shared() -> Path:
    explicit = os.environ.get("NAMEORIGIN_TEST_DATA")
    if explicit:  # no fallback: a mistyped folder must not quietly test against another corpus
        return Path(explicit).expanduser().resolve()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


# The folder of test data: names/ and data.zip, and later corpora (wiki/) beside them.
SHARED = _shared()
NAMES_DIR = SHARED / "names"
DATA_ZIP = SHARED / "data.zip"

HOW_TO_GET_DATA = (
    "download https://download.pytorch.org/tutorial/data.zip, unzip it so that DIR/names/*.txt "
    "exists (the archive unpacks to data/names/), keep data.zip beside it as DIR/data.zip, and set "
    "NAMEORIGIN_TEST_DATA=DIR"
)


def require_data(path: Path, what: str, how: str = HOW_TO_GET_DATA) -> Path:
    """`path` (under `SHARED`) if it exists; else skip the test saying `how` to get it, or fail
    when NAMEORIGIN_REQUIRE_DATA is set, so that CI can never pass by skipping everything.
    Other corpora (wiki/) use it too: ``require_data(SHARED / "wiki" / "names.tsv", ...)``."""
    if path.exists():
        return path
    where = "NAMEORIGIN_TEST_DATA" if os.environ.get("NAMEORIGIN_TEST_DATA") else "the default, ../shared/data"
    message = f"{what} is not at {path} ({where}): {how}"
    if os.environ.get("NAMEORIGIN_REQUIRE_DATA", "") not in ("", "0"):
        pytest.fail(message + " (NAMEORIGIN_REQUIRE_DATA is set, so this is an error)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test may read the user's cache or reach the official URL by accident."""
    for var in ("NAMEORIGIN_DATA", "NAMEORIGIN_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NAMEORIGIN_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", "http://127.0.0.1:9/unreachable/data.zip")


def _downloaded(tmp_path_factory) -> Path | None:
    """With no local copy and no NAMEORIGIN_TEST_DATA: the corpus through the package's own
    download (verified, and cached in the user's cache for later runs), unpacked to a temporary
    folder laid out as `SHARED` is. None when it can't be had (offline): the tests then say how."""
    import zipfile

    from platformdirs import user_cache_dir

    from nameorigin.data.download import OFFICIAL_URL, download
    from nameorigin.errors import DataError

    if os.environ.get("NAMEORIGIN_TEST_DATA"):
        return None
    archive = Path(user_cache_dir("nameorigin")) / "data.zip"
    try:
        if not archive.is_file():
            download(OFFICIAL_URL, archive, progress=False)
    except DataError:
        return None
    out = tmp_path_factory.mktemp("downloaded")
    with zipfile.ZipFile(archive) as z:
        for member in z.namelist():
            if member.startswith("data/names/") and member.endswith(".txt"):
                (out / "names").mkdir(exist_ok=True)
                (out / "names" / Path(member).name).write_bytes(z.read(member))
    (out / "data.zip").write_bytes(archive.read_bytes())
    return out


@pytest.fixture(scope="session")
def tutorial_data(tmp_path_factory) -> Path:
    """The folder holding names/*.txt and data.zip: `SHARED`, or else the download."""
    if NAMES_DIR.exists() and DATA_ZIP.exists():
        return SHARED
    return _downloaded(tmp_path_factory) or SHARED


@pytest.fixture(scope="session")
def names_dir(tutorial_data) -> Path:
    return require_data(tutorial_data / "names", "the tutorial corpus (names/*.txt)")


@pytest.fixture(scope="session")
def data_zip(tutorial_data) -> Path:
    return require_data(tutorial_data / "data.zip", "the tutorial archive data.zip")


@pytest.fixture(scope="session")
def wiki_file() -> Path:
    return require_data(SHARED / "wiki" / "names.tsv", "the Wikipedia people's names (wiki/names.tsv)",
                        "it is built from the name2nat wheel: nameorigin data build-wiki WHEEL --out "
                        "DIR/wiki/names.tsv (see docs/training.md, 'The world model')")


@pytest.fixture(scope="session")
def locales_table(tmp_path_factory) -> Path:
    """The locale lists' table, built from the installed faker and mimesis (the `locales` extra)."""
    import importlib.util

    if importlib.util.find_spec("faker") is None or importlib.util.find_spec("mimesis") is None:
        require_data(Path("/nonexistent/faker-and-mimesis"), "the locale lists (faker, mimesis)",
                     "pip install -e '.[locales]'")
    from nameorigin.cli import main

    out = tmp_path_factory.mktemp("locales-real") / "locales.tsv"
    assert main(["data", "build-locales", "--out", str(out)]) == 0  # the documented command, once a run
    return out


@pytest.fixture(scope="session")
def small_corpus(names_dir, tmp_path_factory) -> Path:
    """Four languages with very different spelling, 60 names each: trains in seconds."""
    out = tmp_path_factory.mktemp("small") / "names"
    out.mkdir()
    for label in ("Chinese", "Greek", "Japanese", "Russian"):
        lines = (names_dir / f"{label}.txt").read_text(encoding="utf-8").splitlines()
        (out / f"{label}.txt").write_text("\n".join(lines[:60]) + "\n", encoding="utf-8")
    return out


def pytest_configure(config):
    os.environ.setdefault("TQDM_DISABLE", "1")


# How `tiny_model` is trained: a small GRU with a validation split and calibration.
TINY_TRAIN = ["train", "--arch", "gru", "--hidden-size", "24", "--num-layers", "1", "--epochs", "3",
              "--batch-size", "16", "--lr", "1e-2", "--val-size", "0.2", "--calibrate", "--quiet"]


@pytest.fixture(scope="session")
def tiny_train() -> list[str]:
    """The command line `tiny_model` is trained with, less its data and output."""
    return list(TINY_TRAIN)


@pytest.fixture(scope="session")
def tiny_model(small_corpus, tmp_path_factory) -> Path:
    """The one small checkpoint every test that needs a trained model shares, trained once per
    test run on `small_corpus` through the command line (`TINY_TRAIN`)."""
    from nameorigin.cli import main

    out = tmp_path_factory.mktemp("tiny") / "model"
    assert main([*TINY_TRAIN, "--data", str(small_corpus), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_server(tiny_model, tmp_path_factory) -> str:
    """Base URL of a real HTTP server on `tiny_model` (``python -m nameorigin.serve`` on 127.0.0.1),
    started once for the test run by the first test that asks for it. The HTTP tests reach it as
    `server` and `client` (tests/serving.py, which also has how it is run)."""
    from serving import running_server

    with running_server(tiny_model, tmp_path_factory.mktemp("serve-log") / "server.log") as (_, url):
        yield url


# A few names of each kind per tradition: enough for every part of a small world run.
FIXTURE = {
    ("Polish", "pl_PL"): ("Kowalski Nowak Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański "
                          "Woźniak Dąbrowski Kozłowski Jankowski Mazur Wojciechowski Kwiatkowski Krawczyk",
                          "Piotr Krzysztof Andrzej Tomasz Paweł Michał Marcin Grzegorz Józef Łukasz Zbigniew"),
    ("Other", "tr_TR"): ("Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç "
                         "Aslan Çetin Kara Koç Kurt Özkan Şimşek", "Mehmet Mustafa Ahmet Hüseyin Hasan Ali İbrahim "
                         "Murat Ömer Ramazan Osman Yusuf"),
    ("Other", "sv_SE"): ("Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson",
                         "Lars Mikael Anders Johan Per Karl Erik Jan Peter Thomas"),
    ("Japanese", "ja_JP"): ("田中 山本 佐藤 鈴木 高橋 渡辺 伊藤 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 清水",
                            "太郎 一郎 花子 大輔 翔太 健太 美咲 結衣"),
    ("Chinese", "zh_CN"): ("王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 罗 郑",
                           "伟 芳 娜 敏 静 磊 强 军 洋 勇 艳 杰 涛 明 超 秀英"),
    ("German", "de_DE"): ("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
                          "Bauer Richter Klein Wolf Schröder Neumann", "Hans Jürgen Klaus Wolfgang Dieter Uwe Stefan"),
    ("English", "en_GB"): ("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
                           "Walker White Roberts Green Hall MacDonald McGregor", "Oliver Harry George Jack Charlie"),
}


def _locale_entries() -> list:
    from nameorigin.data.locales import Entry

    out = []
    for (label, locale), (family, given) in FIXTURE.items():
        out += [Entry(n, label, "family", locale, "faker") for n in family.split()]
        out += [Entry(n, label, "given", locale, "faker") for n in given.split()]
    return out


@pytest.fixture(scope="session")
def locale_file(tmp_path_factory) -> Path:
    """A small locale table written by the real curation, for world runs."""
    from nameorigin.data.locales import curate, write_table

    out = tmp_path_factory.mktemp("locales") / "locales.tsv"
    write_table(curate(_locale_entries()), out)
    return out


@pytest.fixture
def locale_entries() -> list:
    """The entries `locale_file` is curated from, for tests of the curation itself."""
    return _locale_entries()
