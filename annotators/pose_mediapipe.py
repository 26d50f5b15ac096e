"""Pose with MediaPipe (offline): OpenPose-18 and COCO-17 keypose drawings from BlazePose landmarks.

`mediapipe==0.10.21` ships the BlazePose *full* model inside its wheel, so the legacy `mp.solutions.pose` API runs
with no download. Only `model_complexity=1` is bundled (0 and 2 try to download and fail offline), and newer
mediapipe releases ship no models at all. MediaPipe finds one person per image.

MediaPipe's 33 landmarks are normalised (x, y) with a visibility score; both libraries name left/right from the
subject's point of view. Mappings (MediaPipe index per output point; neck = mean of the two shoulders):
  OpenPose-18: 0, neck(11, 12), 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7
  COCO-17:     0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28
A point is dropped when its visibility is below `min_visibility` or it lies outside the image.
No person found -> a black map and a warning on the "annotators" logger.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from annotators.image import fit_within, short_side_resize
from annotators.pose_draw import draw_keypose, draw_openpose
from annotators.registry import LOG, RESOLUTION, AnnotatorFn, Param, register

NECK = -1  # marker for the synthetic neck point
OPENPOSE18_FROM_MEDIAPIPE = (0, NECK, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
COCO17_FROM_MEDIAPIPE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

MEDIAPIPE_VERSION = "0.10.21"
_INSTALL_HINT = (
    f"MediaPipe pose needs the 'mediapipe' package version {MEDIAPIPE_VERSION} (it ships the pose model; newer "
    f"versions ship none): pip install --no-deps mediapipe=={MEDIAPIPE_VERSION} "
    '"protobuf>=4.25.3,<5" absl-py flatbuffers attrs matplotlib'
)

_pose: Any = None
_pose_lock = threading.Lock()  # guards creation and every call: a MediaPipe graph is not re-entrant


def _get_pose() -> Any:
    """The process-wide `mp.solutions.pose.Pose` (created once; ~100 ms and a graph's worth of memory each)."""
    global _pose
    if _pose is None:
        try:
            import mediapipe as mp
        except ImportError as exc:
            raise RuntimeError(f"{_INSTALL_HINT} ({exc})") from exc
        solutions = getattr(mp, "solutions", None)
        if solutions is None:
            raise RuntimeError(
                f"mediapipe {getattr(mp, '__version__', '?')} has no legacy 'solutions' API; {_INSTALL_HINT}"
            )
        _pose = solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=1,  # the only bundled landmark model; 0 and 2 download at init
            enable_segmentation=False,
            min_detection_confidence=0.5,
        )
    return _pose


def detect_landmarks(image: np.ndarray, resolution: int) -> np.ndarray | None:
    """(33, 3) float array of MediaPipe landmarks (x, y normalised to [0, 1], visibility), or None if no person.

    `image`: RGB uint8 (H, W, 3); it is resized to short side `resolution` (0 = as is) before detection, which
    leaves the normalised coordinates unchanged."""
    # fit_within: MediaPipe aborts the whole process (a C++ assertion) on sides above 32767 px.
    work = np.ascontiguousarray(fit_within(short_side_resize(image, resolution)))
    with _pose_lock:  # results are read inside the lock: the next call may reuse the graph's buffers
        result = _get_pose().process(work)
        if result.pose_landmarks is None:
            return None
        return np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float64)


def to_pixels(
    landmarks: np.ndarray, mapping: tuple[int, ...], height: int, width: int, min_visibility: float
) -> np.ndarray:
    """Pick `mapping`'s landmarks as (K, 2) pixel coordinates at (height, width); dropped points are NaN."""
    out = np.full((len(mapping), 2), np.nan)
    for k, index in enumerate(mapping):
        if index == NECK:
            shoulders = landmarks[[11, 12]]
            if np.all(shoulders[:, 2] >= min_visibility):
                x, y = shoulders[:, :2].mean(axis=0)
            else:
                continue
        else:
            x, y, visibility = landmarks[index]
            if visibility < min_visibility:
                continue
        if 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0:
            out[k] = (x * width, y * height)
    return out


_PARAMS = (
    RESOLUTION,
    Param("min_visibility", 0.5, 0.0, 1.0, 0.05, "Minimum landmark visibility to draw a joint"),
)


def _people(
    image: np.ndarray, resolution: int, mapping: tuple[int, ...], min_visibility: float, who: str
) -> list[np.ndarray]:
    h, w = image.shape[:2]
    landmarks = detect_landmarks(image, resolution)
    if landmarks is None:
        LOG.warning("%s: no person found; returning an empty (black) map", who)
        return []
    points = to_pixels(landmarks, mapping, h, w, min_visibility)
    if not np.isfinite(points).all(axis=1).any():
        LOG.warning(
            "%s: a person was found but no joint is visible enough (min_visibility %.2f); "
            "returning an empty (black) map",
            who,
            min_visibility,
        )
        return []
    return [points]


def _pose_annotator(name: str, mapping: tuple[int, ...], draw: Callable[..., np.ndarray]) -> AnnotatorFn:
    """The annotator that draws `mapping`'s points of the one person MediaPipe finds with `draw` (black if none)."""

    def annotate(image: np.ndarray, *, resolution: int, min_visibility: float) -> np.ndarray:
        h, w = image.shape[:2]
        return draw(h, w, _people(image, resolution, mapping, min_visibility, name))

    annotate.__name__ = annotate.__qualname__ = name
    return annotate


# The two conventions differ only in which landmarks they pick, how they draw them and what they suit.
for _name, _mapping, _draw, _suits, _description in (
    (
        "openpose_mediapipe",
        OPENPOSE18_FROM_MEDIAPIPE,
        draw_openpose,
        ("openpose",),
        "OpenPose-18 body skeleton (OpenPose colours, on black) from MediaPipe pose; one person; offline.",
    ),
    (
        "keypose_mediapipe",
        COCO17_FROM_MEDIAPIPE,
        draw_keypose,
        ("keypose",),
        "COCO-17 keypose skeleton (T2I keypose/mmpose colours, on black) from MediaPipe pose; offline.",
    ),
):
    register(_name, output="rgb", params=_PARAMS, suits=_suits, description=_description)(
        _pose_annotator(_name, _mapping, _draw)
    )
