"""OpenPose body pose (``body_pose_model.pth``): the T2I openpose adapters' annotator (facts §1.2).

The image (detect resolution, short side) goes through the CMU body network in BGR, its maps are decoded into
people (`annotators.openpose_decode`), and the skeletons are drawn with the shared OpenPose-18 drawing
(`annotators.pose_draw.draw_openpose`, the same one the MediaPipe pose annotator uses) on black at the input
size. Body only: the T2I openpose adapters were trained without hands or face. No person -> a black map and a
warning on the "annotators" logger.

Channel order: the network is CMU's Caffe model, trained on BGR; ControlNet 1.1 feeds it BGR. T2I-Adapter's
``OpenposeInference`` flips its (BGR) input to RGB before the network, which only changes which people/joints
are found, not how they are drawn; we feed BGR for the better detections.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from annotators.image import short_side_resize
from annotators.pose_draw import draw_openpose
from annotators.registry import LOG, RESOLUTION, register

WEIGHTS = "body_pose_model.pth"


@functools.lru_cache(maxsize=1)
def _model(path: str) -> Any:
    from annotators.nets.openpose_body import BodyPoseNet, from_published
    from annotators.weights import load_network

    net = BodyPoseNet()
    return load_network(net, path, "OpenPose body network", convert=lambda state: from_published(state, net))


def detect_people(image: np.ndarray, *, resolution: int = 512, weights_path: str | None = None) -> list[np.ndarray]:
    """uint8 RGB (H, W, 3) -> people, each (18, 2) float pixel coordinates in `image` (NaN = missing part)."""
    import torch

    from annotators.openpose_decode import decode_people, maps_to_image, network_input
    from annotators.weights import ensure_weights

    net = _model(str(ensure_weights(WEIGHTS, weights_path)))
    work = short_side_resize(image, resolution)
    x, unpadded = network_input(np.ascontiguousarray(work[:, :, ::-1]))  # the network was trained on BGR
    device = next(net.parameters()).device
    with torch.no_grad():
        paf, heat = net(torch.from_numpy(x).to(device))
    size = work.shape[:2]
    heatmaps = maps_to_image(heat[0].float().cpu().numpy(), unpadded, size)
    pafs = maps_to_image(paf[0].float().cpu().numpy(), unpadded, size)
    people = decode_people(heatmaps, pafs)
    sy, sx = image.shape[0] / size[0], image.shape[1] / size[1]
    return [p * np.array([sx, sy]) for p in people]


@register(output="rgb", params=(RESOLUTION,), weights=(WEIGHTS,), suits=("openpose",))
def openpose(image: np.ndarray, *, resolution: int) -> np.ndarray:
    """OpenPose body (CMU network), 18-keypoint skeletons on black (T2I openpose adapters)."""
    people = detect_people(image, resolution=resolution)
    if not people:
        LOG.warning("openpose: no person found; returning an empty (black) map")
    return draw_openpose(image.shape[0], image.shape[1], people)
