"""What every stage runs on, whatever it computes: the project's environment, atomic files and content hashes, where
each output lives, MLflow tracking, the shards of large arrays and a stage's entry point. One folder, so that
dvc.yaml declares it once per stage."""
