"""MediaPipe pose on a real photo, the no-person path, and the two skeleton drawing conventions."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import annotators
from annotators import pose_draw
from annotators.pose_mediapipe import (
    COCO17_FROM_MEDIAPIPE,
    OPENPOSE18_FROM_MEDIAPIPE,
    detect_landmarks,
    to_pixels,
)

pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is part of the test environment")

# The astronaut (skimage's astronaut.png, 512x512) fills the middle-left of the frame: her head is around
# x 0.33-0.55, y 0.05-0.35 of the image; the shuttle (right) and the flag (top-left) are not part of her.
PERSON_BOX = (0.10, 0.03, 0.75, 1.0)  # x0, y0, x1, y1 as fractions of width/height
HEAD_BOX = (0.30, 0.05, 0.60, 0.40)


def _inside(x: float, y: float, box: tuple[float, float, float, float], w: int, h: int) -> bool:
    return box[0] * w <= x <= box[2] * w and box[1] * h <= y <= box[3] * h


def test_mediapipe_finds_the_astronaut_with_her_head_in_the_upper_part(astronaut):
    landmarks = detect_landmarks(astronaut, 512)
    assert landmarks is not None
    h, w = astronaut.shape[:2]
    points = to_pixels(landmarks, OPENPOSE18_FROM_MEDIAPIPE, h, w, 0.5)
    nose, neck = points[0], points[1]
    assert _inside(*nose, HEAD_BOX, w, h)
    assert nose[1] < neck[1]  # head above the neck
    r_shoulder, l_shoulder = points[2], points[5]
    assert r_shoulder[0] < l_shoulder[0]  # facing the camera: her right shoulder is on the image's left


@pytest.mark.parametrize("name", ["openpose_mediapipe", "keypose_mediapipe"])
def test_skeleton_is_drawn_where_the_person_is(astronaut, name):
    out = annotators.run(name, astronaut)
    h, w = astronaut.shape[:2]
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    ys, xs = np.nonzero(out.max(axis=2))
    assert len(xs) > 500, "a skeleton must be drawn"
    assert _inside(xs.min(), ys.min(), PERSON_BOX, w, h) and _inside(xs.max(), ys.max(), PERSON_BOX, w, h)
    assert (out.max(axis=2) == 0).mean() > 0.9, "black background"


def test_openpose_drawing_uses_the_openpose_palette(astronaut):
    out = annotators.run("openpose_mediapipe", astronaut)
    colours = {tuple(c) for c in out.reshape(-1, 3)}
    # Limbs are blended 60 % over black: neck->right shoulder (red) and neck->left shoulder (orange).
    assert (153, 0, 0) in colours and (153, 51, 0) in colours


def test_pose_at_an_odd_size_and_from_a_16_bit_input(astronaut):
    from PIL import Image

    odd = np.array(Image.fromarray(astronaut).resize((517, 333)))
    out = annotators.run("openpose_mediapipe", odd)
    assert out.shape == (333, 517, 3) and out.any()
    out16 = annotators.run("keypose_mediapipe", astronaut.astype(np.uint16) * 257)
    assert out16.shape == (512, 512, 3) and out16.any()


@pytest.mark.parametrize("name", ["openpose_mediapipe", "keypose_mediapipe"])
def test_no_person_gives_a_black_map_and_a_warning(name, caplog):
    grey = np.full((200, 300, 3), 128, np.uint8)
    with caplog.at_level(logging.WARNING, logger="annotators"):
        out = annotators.run(name, grey)
    assert out.shape == (200, 300, 3) and not out.any()
    assert any("no person found" in r.getMessage() and r.name == "annotators" for r in caplog.records)


def test_mappings_pick_the_documented_mediapipe_landmarks():
    assert len(OPENPOSE18_FROM_MEDIAPIPE) == 18 and len(COCO17_FROM_MEDIAPIPE) == 17
    # Fake landmarks whose x encodes the index: every mapped point lands at its MediaPipe index.
    lm = np.zeros((33, 3))
    lm[:, 0] = np.arange(33) / 100
    lm[:, 1] = 0.5
    lm[:, 2] = 1.0
    coco = to_pixels(lm, COCO17_FROM_MEDIAPIPE, 100, 100, 0.5)
    assert np.round(coco[:, 0]).astype(int).tolist() == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    op = to_pixels(lm, OPENPOSE18_FROM_MEDIAPIPE, 100, 100, 0.5)
    assert op[1, 0] == pytest.approx(11.5)  # neck = mean of the shoulders 11 and 12
    assert np.round(op[[2, 5, 14, 15], 0]).astype(int).tolist() == [12, 11, 5, 2]  # r-sho, l-sho, r-eye, l-eye


def test_points_below_min_visibility_or_outside_the_image_are_dropped():
    lm = np.zeros((33, 3))
    lm[:, :2] = 0.5
    lm[:, 2] = 0.9
    lm[14, 2] = 0.2  # right elbow barely visible
    lm[16, :2] = (0.5, 1.3)  # right wrist below the frame
    op = to_pixels(lm, OPENPOSE18_FROM_MEDIAPIPE, 64, 64, 0.5)
    assert np.isnan(op[3]).all() and np.isnan(op[4]).all()
    assert np.isfinite(op[2]).all()


# ---- drawing conventions, checked on hand-placed keypoints at 512x512 (scale 1) --------------------------------


def _openpose_person() -> np.ndarray:
    p = np.full((18, 2), np.nan)
    p[1] = (256, 150)  # neck
    p[2] = (200, 150)  # right shoulder (image left)
    p[3] = (200, 250)  # right elbow
    p[4] = (200, 350)  # right wrist
    return p


def test_openpose_limb_is_its_colour_blended_60_percent_over_black():
    canvas = pose_draw.draw_openpose(512, 512, [_openpose_person()])
    # Mid-point of neck -> right shoulder (limb 0, red): 0.6 * (255, 0, 0).
    assert tuple(canvas[150, 228]) == (153, 0, 0)
    # Mid-point of right shoulder -> elbow (limb 2, (255, 170, 0)).
    assert tuple(canvas[200, 200]) == (153, 102, 0)


def test_openpose_joint_under_a_limb_is_blended_with_the_limb_colour():
    canvas = pose_draw.draw_openpose(512, 512, [_openpose_person()])
    # Right wrist: joint 4 (170, 255, 0) drawn first, limb 3 (255, 255, 0) blended 60 % on top.
    assert tuple(canvas[350, 200]) == (221, 255, 0)
    # Away from limbs and joints: black.
    assert not canvas[400:, 300:].any()


def test_openpose_joint_radius_and_limb_width_follow_the_reference_at_512():
    canvas = pose_draw.draw_openpose(512, 512, [_openpose_person()])
    column = canvas[250, :, :].max(axis=1)  # across the vertical upper arm, at the elbow
    lit = np.nonzero(column)[0]
    assert 7 <= len(lit) <= 11  # ellipse half-width 4 / joint radius 4 -> about 9 px wide


def test_openpose_lines_scale_with_the_canvas():
    big = pose_draw.draw_openpose(1024, 1024, [_openpose_person() * 2])
    lit = np.nonzero(big[400, :, :].max(axis=1))[0]  # across the upper arm at 2x (x 400, y 300..500)
    assert 15 <= len(lit) <= 21


def _keypose_person() -> np.ndarray:
    p = np.full((17, 2), np.nan)
    p[0] = (256, 100)  # nose
    p[5] = (300, 200)  # left shoulder (image right)
    p[6] = (212, 200)  # right shoulder
    p[7] = (300, 300)  # left elbow
    p[8] = (212, 300)  # right elbow
    return p


def test_keypose_colours_face_left_right_as_in_t2i():
    canvas = pose_draw.draw_keypose(512, 512, [_keypose_person()])
    assert tuple(canvas[250, 300]) == (0, 255, 0)  # left upper arm: green
    assert tuple(canvas[250, 212]) == (0, 128, 255)  # right upper arm: blue
    assert tuple(canvas[200, 256]) == (255, 153, 51)  # shoulder line: orange
    assert tuple(canvas[100, 256]) == (255, 153, 51)  # nose point: orange


def test_keypose_line_thickness_and_point_radius_are_2_at_512():
    canvas = pose_draw.draw_keypose(512, 512, [_keypose_person()])
    lit = np.nonzero(canvas[250, 280:320].max(axis=1))[0]
    assert 2 <= len(lit) <= 3
    nose = np.nonzero(canvas[90:110, 256].max(axis=1))[0]
    assert len(nose) == 5  # radius 2 -> 5 px across


def test_keypose_skips_links_that_touch_the_border_and_draws_at_most_two_people():
    person = _keypose_person()
    person[7] = (0, 300)  # left elbow on the border
    canvas = pose_draw.draw_keypose(512, 512, [person])
    assert not canvas[250, 100:200].any()  # no line from the left shoulder (300, 200) to the border point
    assert canvas[250, 212].any()  # the right arm is still drawn
    shifted = [_keypose_person() + (dx, 0) for dx in (-150, 0, 150)]
    three = pose_draw.draw_keypose(512, 512, shifted)
    assert three[250, 150].any() and three[250, 300].any()  # left arms of the first two people
    assert not three[250, 450].any()  # the third person is not drawn


def test_concurrent_calls_share_one_pose_instance_and_agree(astronaut):
    from concurrent.futures import ThreadPoolExecutor

    from annotators import pose_mediapipe

    expected = annotators.run("openpose_mediapipe", astronaut)
    first = pose_mediapipe._get_pose()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: annotators.run("openpose_mediapipe", astronaut), range(8)))
    for out in results:
        np.testing.assert_array_equal(out, expected)
    assert pose_mediapipe._get_pose() is first


def test_pose_survives_a_strip_wider_than_mediapipe_accepts():
    # MediaPipe aborts the process (C++ assertion) on sides above 32767 px; the annotator must shrink first.
    out = annotators.run("openpose_mediapipe", np.full((3, 40000, 3), 90, np.uint8), resolution=0)
    assert out.shape == (3, 40000, 3) and not out.any()
