"""A team's own training pipeline: LightGBM on paved's point-in-time training set.

It meets paved's pipeline contract (docs/pipeline-contract.md): it takes the inputs paved
passes (the training set, its columns' roles, the parameters and the seed; the optional
entity columns it leaves out) and returns the
outputs paved reads (the model as an MLflow model directory, its metrics, and the held-out rows
with their scores). paved joins the training set before it and runs the gates, registers the
model and records its lineage after it, as it does for its built-in pipeline.

Compile it, ship the IR in a ConfigMap, and name the ConfigMap in a ModelVersion:

    python examples/team-pipeline/churn_lgbm.py      # writes churn-lgbm.yaml beside this file
    kubectl apply -n <namespace> -k examples/team-pipeline   # the ConfigMap and the ModelVersion

(No `from __future__ import annotations`: KFP reads the annotations at decoration time.)
"""

from pathlib import Path
from typing import NamedTuple

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

# The team's task image: Python with lightgbm, scikit-learn, pandas and MLflow. Under paved's
# `kfp-local` runner a task is a process of the run's environment, and the image is not used.
IMAGE = "ghcr.io/paved-dev/paved:0.1.0-python3.11"


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    training_set: Input[Dataset],
    timestamp_column: str,
    label_column: str,
    feature_columns: list,
    parameters: dict,
    seed: int,
    validation_fraction: float,
    model: Output[Model],
    metrics: Output[Metrics],
    evaluation: Output[Dataset],
):
    """Hold out the latest rows, fit LightGBM on the rest, score the held-out rows."""
    import math

    import lightgbm
    import mlflow
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    rows = pd.read_parquet(training_set.path).sort_values(timestamp_column, kind="stable")
    cut = math.floor(len(rows) * (1 - validation_fraction))
    earlier, later = rows.iloc[:cut], rows.iloc[cut:].copy()
    text = [c for c in feature_columns if not pd.api.types.is_numeric_dtype(rows[c])]
    numbers = [c for c in feature_columns if c not in text]
    encode = ColumnTransformer(
        [
            ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), text),
            ("numbers", "passthrough", numbers),
        ]
    )
    classifier = lightgbm.LGBMClassifier(
        n_estimators=int(parameters.get("n_estimators", 200)),
        learning_rate=float(parameters.get("learning_rate", 0.05)),
        num_leaves=int(parameters.get("num_leaves", 15)),
        random_state=seed,
        deterministic=True,
        n_jobs=1,
        verbose=-1,
    )
    fitted = Pipeline([("encode", encode), ("classify", classifier)])
    fitted.fit(earlier[feature_columns], earlier[label_column].astype(int))

    later["score"] = fitted.predict_proba(later[feature_columns])[:, 1]
    later.to_parquet(evaluation.path, index=False)
    labels = later[label_column].astype(int)
    metrics.log_metric("auc", float(roc_auc_score(labels, later["score"])))
    metrics.log_metric("logLoss", float(log_loss(labels, later["score"], labels=[0, 1])))
    metrics.log_metric("trainRows", len(earlier))
    # What a model server loads: MLflow's pyfunc, returning both classes' probabilities.
    mlflow.sklearn.save_model(
        fitted, model.path, serialization_format="cloudpickle", pyfunc_predict_fn="predict_proba"
    )


class Outputs(NamedTuple):
    model: Model
    metrics: Metrics
    evaluation: Dataset


@dsl.pipeline(name="churn-lgbm", description="A team's LightGBM churn classifier.")
def churn_lgbm(
    training_set: Input[Dataset],
    timestamp_column: str,
    label_column: str,
    feature_columns: list,
    parameters: dict,
    seed: int,
    validation_fraction: float,
) -> Outputs:
    trained = train(
        training_set=training_set,
        timestamp_column=timestamp_column,
        label_column=label_column,
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


COMPILED = Path(__file__).with_name("churn-lgbm.yaml")

if __name__ == "__main__":
    compiler.Compiler().compile(churn_lgbm, str(COMPILED))
    print(f"wrote {COMPILED}")
