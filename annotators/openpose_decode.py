"""OpenPose body post-processing: confidence maps + part affinity fields -> people as 18 keypoints each.

The procedure and its constants are those of pytorch-openpose ``Body.__call__`` (used by ControlNet and by
T2I-Adapter's openpose annotator), so the same network output gives the same skeletons:

1. Input: the image in BGR, scaled so its height is ``368 * 0.5`` px (``boxsize`` 368, one search scale 0.5),
   padded right/bottom to a multiple of 8 with value 128, fed as ``x / 256 - 0.5``.
2. The network's maps (stride 8) are upsampled x8, the padding is cut off, and they are resized to the image.
3. Parts: local maxima of the Gaussian-smoothed (sigma 3) confidence map of each of the 18 parts that exceed
   ``thre1`` = 0.1; a peak's score is the unsmoothed map there.
4. Limbs: for each of 19 limb types, every (part A, part B) candidate pair is scored by sampling the limb's PAF
   at 10 points along the segment: the mean of the PAF projected on the segment direction, plus a length
   penalty ``min(0.5 * H / length - 1, 0)``. A pair is kept when more than 80 % of the samples exceed
   ``thre2`` = 0.05 and the score is positive; pairs are then taken greedily by score, each part used once.
5. People are assembled limb by limb (merging two partial people that share a part and do not overlap);
   people with fewer than 4 parts or a mean score below 0.4 are dropped.

Output keypoints are ``(18, 2)`` float pixel coordinates ``(x, y)`` with NaN for a missing part, in the OpenPose
order nose, neck, r-shoulder, r-elbow, r-wrist, l-shoulder, l-elbow, l-wrist, r-hip, r-knee, r-ankle, l-hip,
l-knee, l-ankle, r-eye, l-eye, r-ear, l-ear (what `annotators.pose_draw.draw_openpose` draws).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .pose_draw import OPENPOSE_LIMBS

BOX_SIZE = 368
SCALE = 0.5
STRIDE = 8
PAD_VALUE = 128
PEAK_THRESHOLD = 0.1  # thre1
PAF_THRESHOLD = 0.05  # thre2
PAF_SAMPLES = 10
NUM_PARTS = 18

# (part A, part B) of the 19 limb types (0-based), and the PAF channels (x, y) of each, in the original order: the 17
# drawn limbs (pose_draw.OPENPOSE_LIMBS, same order) plus the two shoulder-ear links the network also predicts.
LIMBS: tuple[tuple[int, int], ...] = OPENPOSE_LIMBS + ((2, 16), (5, 17))
LIMB_PAF: tuple[tuple[int, int], ...] = (
    (12, 13),
    (20, 21),
    (14, 15),
    (16, 17),
    (22, 23),
    (24, 25),
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (8, 9),
    (10, 11),
    (28, 29),
    (30, 31),
    (34, 35),
    (32, 33),
    (36, 37),
    (18, 19),
    (26, 27),
)


def network_input(bgr: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """uint8 BGR (H, W, 3) -> (float32 [1, 3, h, w] network input, (h_unpadded, w_unpadded))."""
    scale = BOX_SIZE * SCALE / bgr.shape[0]
    h, w = max(1, int(bgr.shape[0] * scale)), max(1, int(bgr.shape[1] * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LANCZOS4
    small = cv2.resize(bgr, (w, h), interpolation=interp)
    pad_h, pad_w = (-h) % STRIDE, (-w) % STRIDE
    padded = cv2.copyMakeBorder(small, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    x = padded.astype(np.float32).transpose(2, 0, 1)[None] / 256.0 - 0.5
    return np.ascontiguousarray(x), (h, w)


def maps_to_image(maps: np.ndarray, unpadded: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Network maps [C, h/8, w/8] -> float32 (H, W, C) at the image size (x8, crop the padding, resize)."""
    up = np.stack(
        [cv2.resize(m, (m.shape[1] * STRIDE, m.shape[0] * STRIDE), interpolation=cv2.INTER_LANCZOS4) for m in maps],
        axis=2,
    )
    up = up[: unpadded[0], : unpadded[1]]
    h, w = size
    shrink = (h + w) < (up.shape[0] + up.shape[1])
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4
    return np.stack([cv2.resize(up[:, :, c], (w, h), interpolation=interp) for c in range(up.shape[2])], axis=2)


def find_peaks(heatmaps: np.ndarray) -> list[np.ndarray]:
    """Per part: array (n, 4) of [x, y, score, id] (ids unique over all parts)."""
    peaks: list[np.ndarray] = []
    next_id = 0
    for part in range(NUM_PARTS):
        raw = heatmaps[:, :, part].astype(np.float32)
        smooth = cv2.GaussianBlur(raw, (25, 25), 3, borderType=cv2.BORDER_REFLECT)  # scipy sigma 3, truncate 4
        padded = np.pad(smooth, 1, constant_values=0)
        centre = padded[1:-1, 1:-1]
        is_peak = (
            (centre >= padded[:-2, 1:-1])
            & (centre >= padded[2:, 1:-1])
            & (centre >= padded[1:-1, :-2])
            & (centre >= padded[1:-1, 2:])
            & (centre > PEAK_THRESHOLD)
        )
        ys, xs = np.nonzero(is_peak)
        order = np.lexsort((xs, ys))  # row-major, as np.nonzero gives
        ys, xs = ys[order], xs[order]
        ids = np.arange(next_id, next_id + len(xs))
        next_id += len(xs)
        peaks.append(np.stack([xs, ys, raw[ys, xs], ids], axis=1).astype(np.float64) if len(xs) else np.zeros((0, 4)))
    return peaks


def _connect(paf_x: np.ndarray, paf_y: np.ndarray, cand_a: np.ndarray, cand_b: np.ndarray, height: int) -> np.ndarray:
    """Greedy limb matching for one limb type: rows [id_a, id_b, score, index_a, index_b]."""
    scored = []
    for i, a in enumerate(cand_a):
        for j, b in enumerate(cand_b):
            vec = b[:2] - a[:2]
            norm = max(0.001, math.hypot(vec[0], vec[1]))
            unit = vec / norm
            xs = np.rint(np.linspace(a[0], b[0], PAF_SAMPLES)).astype(int)
            ys = np.rint(np.linspace(a[1], b[1], PAF_SAMPLES)).astype(int)
            projected = paf_x[ys, xs] * unit[0] + paf_y[ys, xs] * unit[1]
            score = projected.mean() + min(0.5 * height / norm - 1, 0)
            if np.count_nonzero(projected > PAF_THRESHOLD) > 0.8 * PAF_SAMPLES and score > 0:
                scored.append((i, j, score))
    scored.sort(key=lambda t: t[2], reverse=True)
    rows: list[list[float]] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    for i, j, score in scored:
        if i in used_a or j in used_b:
            continue
        rows.append([cand_a[i][3], cand_b[j][3], score, i, j])
        used_a.add(i)
        used_b.add(j)
        if len(rows) >= min(len(cand_a), len(cand_b)):
            break
    return np.array(rows).reshape(-1, 5)


def decode_people(heatmaps: np.ndarray, pafs: np.ndarray) -> list[np.ndarray]:
    """Confidence maps (H, W, >=18) and PAFs (H, W, 38) at image size -> people, each (18, 2) float (NaN = missing)."""
    height = heatmaps.shape[0]
    peaks = find_peaks(heatmaps)
    candidates = np.concatenate(peaks, axis=0) if peaks else np.zeros((0, 4))
    # Each person row: part ids (18, -1 = none), total score, part count.
    people = np.zeros((0, NUM_PARTS + 2))
    for k, ((part_a, part_b), (cx, cy)) in enumerate(zip(LIMBS, LIMB_PAF)):
        if len(peaks[part_a]) == 0 or len(peaks[part_b]) == 0:
            continue
        links = _connect(pafs[:, :, cx], pafs[:, :, cy], peaks[part_a], peaks[part_b], height)
        for id_a, id_b, score, _, _ in links:
            owners = [n for n in range(len(people)) if people[n][part_a] == id_a or people[n][part_b] == id_b][:2]
            if len(owners) == 1:
                row = people[owners[0]]
                if row[part_b] != id_b:
                    row[part_b] = id_b
                    row[-1] += 1
                    row[-2] += candidates[int(id_b), 2] + score
            elif len(owners) == 2 and _overlap(people[owners[0]], people[owners[1]]):
                row = people[owners[0]]  # the original adds part B to the first without the "already there" check
                row[part_b] = id_b
                row[-1] += 1
                row[-2] += candidates[int(id_b), 2] + score
            elif len(owners) == 2:  # two partial people joined by this limb: merge the second into the first
                first, second = people[owners[0]], people[owners[1]]
                first[:-2] += second[:-2] + 1
                first[-2:] += second[-2:]
                first[-2] += score
                people = np.delete(people, owners[1], axis=0)
            elif k < 17:  # the two ear-shoulder limbs never start a person
                row = -np.ones(NUM_PARTS + 2)
                row[part_a], row[part_b] = id_a, id_b
                row[-1] = 2
                row[-2] = candidates[int(id_a), 2] + candidates[int(id_b), 2] + score
                people = np.vstack([people, row])
    keep = [r for r in people if r[-1] >= 4 and r[-2] / r[-1] >= 0.4]
    result = []
    for row in keep:
        points = np.full((NUM_PARTS, 2), np.nan)
        for part in range(NUM_PARTS):
            if row[part] >= 0:
                points[part] = candidates[int(row[part]), :2]
        result.append(points)
    return result


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two partial people both claim some part (then they are not merged)."""
    return bool(np.any((a[:-2] >= 0) & (b[:-2] >= 0)))
