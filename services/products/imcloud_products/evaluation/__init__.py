"""Benchmark evaluation of the anomaly detector (SKAB, NAB) and its throughput.

evaluate_skab(dataset_dir) and evaluate_nab(dataset_dir) are the entry points;
`imcloud eval anomaly` (imcloud_products.evaluation.report) renders their table.
"""

from imcloud_products.evaluation.nab import evaluate_nab
from imcloud_products.evaluation.skab import evaluate_skab

__all__ = ["evaluate_nab", "evaluate_skab"]
