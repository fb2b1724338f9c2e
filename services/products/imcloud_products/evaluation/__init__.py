"""Benchmark evaluation of the anomaly detector (SKAB, NAB) and its throughput.

evaluate_skab(dataset_dir), evaluate_nab(dataset_dir), run_all(datasets_dir) and
format_table(rows) are the entry points; see harness.py.
"""

from imcloud_products.evaluation.harness import ResultRow, format_table, run_all
from imcloud_products.evaluation.nab import evaluate_nab
from imcloud_products.evaluation.skab import evaluate_skab

__all__ = ["ResultRow", "evaluate_nab", "evaluate_skab", "format_table", "run_all"]
