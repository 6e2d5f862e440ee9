"""Stream workers: where a StreamingPrediction's consumers run (processes beside the operator)."""
