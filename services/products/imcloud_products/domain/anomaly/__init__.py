"""Online anomaly detection for equipment telemetry (plain Python + numpy).

Public API:
- StreamingAnomalyDetector: per-machine detector; update(timestamps, values)
  returns a DetectionResult; to_state()/from_state() save and restore it exactly;
  reset() forgets everything (e.g. after maintenance).
- DetectorConfig: its settings.
- MachineEpisodes / EpisodeTracker: fold per-row flags into anomaly and
  data-quality episodes (open, extend, escalate as the severity rises, close
  after a quiet period).
- QualityFlag: the data-quality bits of DetectionResult.quality.
"""

from imcloud_products.domain.anomaly.config import DetectorConfig
from imcloud_products.domain.anomaly.detector import DetectionResult, StreamingAnomalyDetector
from imcloud_products.domain.anomaly.episodes import (
    Episode,
    EpisodeEvent,
    EpisodeTracker,
    MachineEpisodes,
)
from imcloud_products.domain.anomaly.quality import QualityFlag

__all__ = [
    "DetectionResult",
    "DetectorConfig",
    "Episode",
    "EpisodeEvent",
    "EpisodeTracker",
    "MachineEpisodes",
    "QualityFlag",
    "StreamingAnomalyDetector",
]
