"""Batch prediction beyond one process: a Classifier pickles as its checkpoint files, and the
documented Dask recipe gives every row back in order with the file mode's predictions."""

from __future__ import annotations

import csv
import pickle
import random
import subprocess
import sys

import pytest

from nameorigin import load_model


def test_a_classifier_pickles_as_its_files_and_is_rebuilt_once_per_process():
    clf = load_model("tutorial")
    blob = pickle.dumps(clf)
    assert len(blob) < 2 * 2**20
    first, second = pickle.loads(blob), pickle.loads(blob)
    assert first is second
    names = ["Qin", "Schmidt", "42", "Ślusàrski"]
    assert [r.to_dict() for r in first.predict(names)] == [r.to_dict() for r in clf.predict(names)]


def test_dask_map_partitions_matches_the_file_mode(tmp_path, names_dir):
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    pd = pytest.importorskip("pandas")
    pool = [line for path in sorted(names_dir.glob("*.txt"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(0)
    names = [rng.choice(pool) for _ in range(200_000)]
    names[::5000] = ["42"] * len(names[::5000])
    source = tmp_path / "names.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        writer.writerows(enumerate(names))
    single = tmp_path / "single.csv"
    subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--model", "tutorial", "--input", str(source),
                    "--column", "name", "--output", str(single), "--quiet"], check=True, timeout=600)
    expected = pd.read_csv(single, dtype={"name": str}, keep_default_na=False)

    clf = load_model("tutorial")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        frame = dd.read_csv(source, dtype={"name": str}, keep_default_na=False, blocksize=1_000_000)
        assert frame.npartitions >= 2
        got = frame.map_partitions(clf.predict_frame, column="name").compute().reset_index(drop=True)
    assert got["id"].tolist() == list(range(len(names)))
    assert got["predicted_label"].fillna("").tolist() == expected["label"].tolist()
    assert (got["probability"].fillna(-1) - expected["probability"].replace("", -1).astype(float)).abs().max() < 1e-6
    assert got["abstained"].tolist() == (expected["abstained"].astype(str).str.lower() == "true").tolist()
    assert sum(got["abstained"]) == len(names[::5000])
