"""Skeleton drawings in the two conventions the pose adapters were trained on.

Keypoints are float pixel coordinates ``(K, 2)`` in the canvas; a missing point is NaN. Canvases are RGB uint8,
black background. Line widths are given at a 512-pixel scale (the size the T2I/ControlNet annotators drew at)
and scaled with ``sqrt(H * W) / 512`` so a map looks the same at any size.

OpenPose body (18 points; t2iadapter_openpose, adapter-xl-openpose, ControlNet openpose):
  order nose, neck, r-shoulder, r-elbow, r-wrist, l-shoulder, l-elbow, l-wrist, r-hip, r-knee, r-ankle, l-hip,
  l-knee, l-ankle, r-eye, l-eye, r-ear, l-ear. Joints are filled circles (radius 4) in the 18-colour OpenPose
  rainbow; then 17 limbs (the ear-shoulder links of the original table are not drawn) as filled ellipses of
  half-width 4, each blended 60 % over what is below, in the same rainbow. This is the T2I-Adapter openpose
  drawing (pytorch-openpose `draw_bodypose`: joints first, limbs blended on top); colours are RGB.

COCO-17 keypose (t2iadapter_keypose, drawn by mmpose's `imshow_keypoints` in T2I):
  order nose, l-eye, r-eye, l-ear, r-ear, l-shoulder, r-shoulder, l-elbow, r-elbow, l-wrist, r-wrist, l-hip,
  r-hip, l-knee, r-knee, l-ankle, r-ankle. Joints are filled circles (radius 2), then links as lines
  (thickness 2) on top. Face points/links are orange, the subject's left side green, the right side blue (RGB
  (255, 153, 51), (0, 255, 0), (0, 128, 255); T2I wrote the BGR triples (51, 153, 255), (0, 255, 0),
  (255, 128, 0) into a BGR image). A link is skipped when an end lies on or outside the image border.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# ---- OpenPose-18 -------------------------------------------------------------------------------------------
# Rainbow of 18 RGB colours, one per joint and per limb (index i colours joint i and limb i).
OPENPOSE_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (255, 85, 0),
    (255, 170, 0),
    (255, 255, 0),
    (170, 255, 0),
    (85, 255, 0),
    (0, 255, 0),
    (0, 255, 85),
    (0, 255, 170),
    (0, 255, 255),
    (0, 170, 255),
    (0, 85, 255),
    (0, 0, 255),
    (85, 0, 255),
    (170, 0, 255),
    (255, 0, 255),
    (255, 0, 170),
    (255, 0, 85),
)
# Limbs as (joint, joint), 0-based, in drawing/colour order: neck-shoulders, arms, neck-hips, legs, head.
OPENPOSE_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (1, 5),
    (2, 3),
    (3, 4),
    (5, 6),
    (6, 7),
    (1, 8),
    (8, 9),
    (9, 10),
    (1, 11),
    (11, 12),
    (12, 13),
    (1, 0),
    (0, 14),
    (14, 16),
    (0, 15),
    (15, 17),
)
OPENPOSE_JOINT_RADIUS = 4
OPENPOSE_LIMB_HALF_WIDTH = 4
OPENPOSE_LIMB_ALPHA = 0.6

# ---- COCO-17 keypose ---------------------------------------------------------------------------------------
_FACE = (255, 153, 51)
_LEFT = (0, 255, 0)
_RIGHT = (0, 128, 255)
KEYPOSE_POINT_COLORS: tuple[tuple[int, int, int], ...] = (_FACE,) * 5 + (_LEFT, _RIGHT) * 6
# (link, colour): legs, hips, torso sides, shoulders, arms, face, ears-to-shoulders.
KEYPOSE_LINKS: tuple[tuple[tuple[int, int], tuple[int, int, int]], ...] = (
    ((15, 13), _LEFT),
    ((13, 11), _LEFT),
    ((16, 14), _RIGHT),
    ((14, 12), _RIGHT),
    ((11, 12), _FACE),
    ((5, 11), _FACE),
    ((6, 12), _FACE),
    ((5, 6), _FACE),
    ((5, 7), _LEFT),
    ((6, 8), _RIGHT),
    ((7, 9), _LEFT),
    ((8, 10), _RIGHT),
    ((1, 2), _FACE),
    ((0, 1), _FACE),
    ((0, 2), _FACE),
    ((1, 3), _FACE),
    ((2, 4), _FACE),
    ((3, 5), _FACE),
    ((4, 6), _FACE),
)
KEYPOSE_RADIUS = 2
KEYPOSE_THICKNESS = 2


def scale_for(height: int, width: int) -> float:
    """Drawing scale relative to a 512×512 canvas (by area, like T2I's 512·512 `max_resolution`)."""
    return math.sqrt(height * width) / 512.0


def _scaled(size: float, scale: float) -> int:
    return max(1, round(size * scale))


def _valid(p: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(p)))


def _blend_polygon(canvas: np.ndarray, poly: np.ndarray, colour: tuple[int, int, int], alpha: float) -> None:
    """Fill `poly` with `colour` at opacity `alpha`, in place. Works on the polygon's bounding box only: outside
    the polygon a mix of the canvas with itself changes nothing."""
    h, w = canvas.shape[:2]
    x0, y0 = np.maximum(poly.min(axis=0), 0)
    x1, y1 = np.minimum(poly.max(axis=0) + 1, (w, h))
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, (poly - (x0, y0)).astype(np.int32), 1)
    inside = mask.astype(bool)
    roi = canvas[y0:y1, x0:x1]
    mixed = roi[inside] * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha
    roi[inside] = np.rint(mixed).astype(np.uint8)


def draw_openpose(height: int, width: int, people: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 (height, width, 3): OpenPose-18 body skeletons of `people` (each ``(18, 2)`` float, NaN = missing)."""
    canvas = np.zeros((height, width, 3), np.uint8)
    s = scale_for(height, width)
    radius = _scaled(OPENPOSE_JOINT_RADIUS, s)
    half_width = _scaled(OPENPOSE_LIMB_HALF_WIDTH, s)
    for points in people:
        for i, p in enumerate(points):
            if _valid(p):
                cv2.circle(canvas, (int(p[0]), int(p[1])), radius, OPENPOSE_COLORS[i], thickness=-1)
    for i, (a, b) in enumerate(OPENPOSE_LIMBS):
        for points in people:
            pa, pb = points[a], points[b]
            if not (_valid(pa) and _valid(pb)):
                continue
            centre = ((pa + pb) / 2.0).astype(int)
            length = float(np.hypot(*(pa - pb)))
            angle = math.degrees(math.atan2(pa[1] - pb[1], pa[0] - pb[0]))
            poly = cv2.ellipse2Poly(
                (int(centre[0]), int(centre[1])), (int(length / 2), half_width), int(angle), 0, 360, 1
            )
            _blend_polygon(canvas, poly, OPENPOSE_COLORS[i], OPENPOSE_LIMB_ALPHA)
    return canvas


def draw_keypose(height: int, width: int, people: list[np.ndarray]) -> np.ndarray:
    """RGB uint8 (height, width, 3): COCO-17 keypose skeletons of `people` (each ``(17, 2)`` float, NaN = missing).

    At most two people are drawn, as in T2I's keypose annotator."""
    canvas = np.zeros((height, width, 3), np.uint8)
    s = scale_for(height, width)
    radius = _scaled(KEYPOSE_RADIUS, s)
    thickness = _scaled(KEYPOSE_THICKNESS, s)
    for points in people[:2]:
        for i, p in enumerate(points):
            if _valid(p):
                cv2.circle(canvas, (int(p[0]), int(p[1])), radius, KEYPOSE_POINT_COLORS[i], thickness=-1)
        for (a, b), colour in KEYPOSE_LINKS:
            pa, pb = points[a], points[b]
            if not (_valid(pa) and _valid(pb)):
                continue
            ends = [(int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1]))]
            if any(x <= 0 or x >= width or y <= 0 or y >= height for x, y in ends):
                continue
            cv2.line(canvas, ends[0], ends[1], colour, thickness=thickness)
    return canvas
