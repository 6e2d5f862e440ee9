"""A team's own ranker: LightGBM LambdaRank on paved's point-in-time training set.

It meets paved's pipeline contract for a ranking task (docs/pipeline-contract.md): besides the
inputs every pipeline takes it declares `query_column`, so it knows which rows form one list to
rank, and it keeps that column in its evaluation rows, so paved's gates measure NDCG@k and MAP@k
per query. The model it returns scores each candidate (pyfunc `predict`: one number per row,
higher first), which is what the data plane's `/api/v1.0/rank` orders a candidate list by.

    python examples/ranking-pipeline/search_lambdarank.py   # writes search-lambdarank.yaml
    kubectl apply -n <namespace> -k examples/ranking-pipeline

(No `from __future__ import annotations`: KFP reads the annotations at decoration time.)
"""

from pathlib import Path
from typing import NamedTuple

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

# Under paved's `kfp-local` runner a task is a process of the run's environment: no image.
IMAGE = "ghcr.io/paved-dev/paved:0.1.0-python3.11"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    training_set: Input[Dataset],
    timestamp_column: str,
    label_column: str,
    query_column: str,
    feature_columns: list,
    parameters: dict,
    seed: int,
    validation_fraction: float,
    model: Output[Model],
    metrics: Output[Metrics],
    evaluation: Output[Dataset],
):
    """Hold out the latest queries (whole lists, never split), fit LambdaRank on the rest."""
    import math

    import lightgbm
    import mlflow
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.metrics import ndcg_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    rows = pd.read_parquet(training_set.path)
    # A query's rows together, queries in time order: LambdaRank reads a list as a run of rows.
    rows = rows.sort_values([timestamp_column, query_column], kind="stable")
    order = rows[query_column].drop_duplicates().tolist()
    held = set(order[math.floor(len(order) * (1 - validation_fraction)) :])
    later = rows[rows[query_column].isin(held)].copy()
    earlier = rows[~rows[query_column].isin(held)]
    text = [c for c in feature_columns if not pd.api.types.is_numeric_dtype(rows[c])]
    encode = ColumnTransformer(
        [
            ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), text),
            ("numbers", "passthrough", [c for c in feature_columns if c not in text]),
        ]
    )
    ranker = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=int(parameters.get("n_estimators", 100)),
        learning_rate=float(parameters.get("learning_rate", 0.05)),
        num_leaves=int(parameters.get("num_leaves", 15)),
        min_child_samples=int(parameters.get("min_child_samples", 10)),
        random_state=seed,
        deterministic=True,
        n_jobs=1,
        verbose=-1,
    )
    fitted = Pipeline([("encode", encode), ("rank", ranker)])
    groups = earlier.groupby(query_column, sort=False).size().to_numpy()
    fitted.fit(earlier[feature_columns], earlier[label_column].astype(int), rank__group=groups)

    later["score"] = fitted.predict(later[feature_columns])
    later.to_parquet(evaluation.path, index=False)
    lists = [g for _, g in later.groupby(query_column) if len(g) > 1]
    ndcg = sum(ndcg_score([g[label_column]], [g["score"]], k=10) for g in lists) / len(lists)
    metrics.log_metric("ndcg10", float(ndcg))
    metrics.log_metric("trainQueries", len(order) - len(held))
    # What a model server loads: MLflow's pyfunc, one score per candidate.
    mlflow.sklearn.save_model(
        fitted, model.path, serialization_format="cloudpickle", pyfunc_predict_fn="predict"
    )


class Outputs(NamedTuple):
    model: Model
    metrics: Metrics
    evaluation: Dataset


@dsl.pipeline(name="search-lambdarank", description="A team's LightGBM LambdaRank ranker.")
def search_lambdarank(
    training_set: Input[Dataset],
    timestamp_column: str,
    label_column: str,
    query_column: str,
    feature_columns: list,
    parameters: dict,
    seed: int,
    validation_fraction: float,
) -> Outputs:
    trained = train(
        training_set=training_set,
        timestamp_column=timestamp_column,
        label_column=label_column,
        query_column=query_column,
        feature_columns=feature_columns,
        parameters=parameters,
        seed=seed,
        validation_fraction=validation_fraction,
    )
    return Outputs(
        model=trained.outputs["model"],
        metrics=trained.outputs["metrics"],
        evaluation=trained.outputs["evaluation"],
    )


COMPILED = Path(__file__).with_name("search-lambdarank.yaml")

if __name__ == "__main__":
    compiler.Compiler().compile(search_lambdarank, str(COMPILED))
    print(f"wrote {COMPILED}")
