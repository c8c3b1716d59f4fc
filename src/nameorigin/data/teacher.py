"""A quick reader of family names that never saw a nationality: character n-grams and a logistic
regression, trained on names labelled by their tradition. It settles the names two lists claim
(`locales.curate`) and finds Wikipedia's diaspora names (`relabel`)."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline


def fit_teacher(names: list[str], labels: list[str], seed: int = 0) -> Pipeline:
    model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
                          LogisticRegression(max_iter=300, C=10.0, random_state=seed))
    return model.fit([n.lower() for n in names], labels)
